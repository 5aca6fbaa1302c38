"""The run's story for the Overview: per domain, its curves, marks, verdict and findings row.

Gathers from a `Run` (its analysis tables) the long frames `grokviz.figures.story` draws. A
domain is told when the analysis judged it (it has held-out accuracy and memorised samples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.figures import frames

if TYPE_CHECKING:
    from grokviz.api.run import Run

GENERALISED = 0.9  # held-out accuracy above which a domain counts as generalised (the demo's bar)
MARK_COLUMNS = {"start_step": "memorised", "routing_onset": "routing onset", "accuracy_onset": "accuracy onset"}


def story_frames(run: Run, metric: str = "distance") -> dict[str, Any]:
    """curves (domain, step, series, value), marks (domain, mark, step), verdicts, findings rows, spans."""
    targets = run.targets()
    domains = targets.loc[targets["kind"] == "domain", "group"].tolist() if len(targets) else []
    train, test = run.accuracy(names.Split.TRAIN.value), run.accuracy(names.Split.TEST.value)
    onsets = run.onsets()
    curves, marks, rows, verdicts = [], [], [], {}
    for domain in domains:
        series = run.metric_series(domain, metric)
        for name, part in (("train", train[train[names.GROUP] == domain]), ("test", test[test[names.GROUP] == domain])):
            curves.append(pd.DataFrame({"domain": domain, "step": part[names.STEP], "series": name,
                                        "value": part["accuracy"]}))
        curves.append(pd.DataFrame({"domain": domain, "step": series[names.STEP], "series": metric,
                                    "value": series["value"]}))
        own = onsets[(onsets[names.GROUP] == domain) & (onsets["metric"] == metric)]
        for column, mark in MARK_COLUMNS.items():
            marks.append({"domain": domain, "mark": mark, "step": int(own[column].iloc[0]) if len(own) else -1})
        verdicts[domain] = run.verdicts(domain).get(metric, "")
        rows.append(_finding(run, domain, metric, own, test[test[names.GROUP] == domain], verdicts[domain]))
    return {"curves": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["domain", "step",
                                                                                              "series", "value"]),
            "marks": pd.DataFrame(marks, columns=["domain", "mark", "step"]), "verdicts": verdicts,
            "findings": rows, "spans": _spans(run)}


def _step(own: pd.DataFrame, column: str) -> int | None:
    value = int(own[column].iloc[0]) if len(own) else -1
    return value if value >= 0 else None


def _finding(run: Run, domain: str, metric: str, own: pd.DataFrame, test: pd.DataFrame, verdict: str) -> dict:
    """One row of the findings table."""
    checks = run.validity(domain)
    checks = checks[checks["metric"] == metric].set_index("check")

    def fmt(check: str, interval: bool = True) -> str:
        if check not in checks.index or not np.isfinite(checks.loc[check, "value"]):
            return ""
        row = checks.loc[check]
        text = f"{row['value']:+.2f}"
        return text + (f" [{row['low']:+.2f}, {row['high']:+.2f}]" if interval and np.isfinite(row["low"]) else "")

    memorised, routing, accuracy = (_step(own, c) for c in ("start_step", "routing_onset", "accuracy_onset"))
    above = test[test["accuracy"] > GENERALISED].sort_values(names.STEP)
    members = run.analysis("group_metrics")
    own_sizes = members.loc[members[names.GROUP] == domain, "n_samples"] if members is not None else pd.Series()
    size = int(own_sizes.max()) if len(own_sizes) else None
    return {"domain": domain, "memorised samples": size, "memorised at": memorised, "routing onset": routing,
            "accuracy onset": accuracy, f"held-out > {GENERALISED:.0%} at": int(above[names.STEP].iloc[0]) if len(above) else None,
            "onset delay": (accuracy - memorised) if accuracy is not None and memorised is not None else None,
            f"{metric} r with accuracy": fmt("pearson"), "r with step": fmt("pearson_vs_step", False),
            "partial r given step": fmt("partial_given_step"), "verdict": verdict}


def _spans(run: Run) -> pd.DataFrame:
    """label, domain, start (p), end (q), n of every pair with a positive delay."""
    pairs = run.analysis("pairs")
    columns = ["label", "domain", "start", "end", "n"]
    if pairs is None or pairs.empty:
        return pd.DataFrame(columns=columns)
    metrics = run.analysis("group_metrics")
    sizes = metrics.groupby(names.GROUP)["n_samples"].max() if metrics is not None else pd.Series(dtype=int)
    out = pd.DataFrame({"label": frames.pair_labels(pairs), "domain": pairs["domain"],
                        "start": [frames.label_step(g) for g in pairs["train_group"]],
                        "end": [frames.label_step(g) for g in pairs["test_group"]],
                        "n": [int(sizes.get(g, 0)) for g in pairs["train_group"]]})
    return out[out["end"] > out["start"]].sort_values(["domain", "start"], ignore_index=True)
