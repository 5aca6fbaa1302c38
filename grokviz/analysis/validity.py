"""Is the signal real? The checks of METHOD 11 for every group and pathway metric, and the onsets.

For each group with accuracy (a domain and its held-out accuracy; a Pretrain@p and its paired
Test@q) and each metric (distance, mean layer cosine, consistency, the training-loss baseline):
  - `pearson` with its own accuracy, bootstrap interval over checkpoints;
  - `partial_given_step`: beyond the time trend, with its bootstrap interval;
  - `pearson_vs_step`: the time trend itself;
  - `loo_pearson`, `loo_partial`: the range leaving one checkpoint out;
  - `permutation_p`, `permutation_p_partial`: shuffling the metric's checkpoint order;
  - `specificity`: own r, and the range of r with the other groups' accuracies (n = how many);
  - `null_random_groups`: r of equal-size random groups of memorised samples (mean, 2.5-97.5%);
  - `null_token_identity`: r of the metric recomputed with each token's routing replaced by its
    token id's mean (NaN when that null does not move, e.g. one token id at every position).
All over the group's correlation window (`window` in `correlations`). `onset_table` compares the
routing-only onset (never sees accuracy) with the accuracy onset. `verdict` turns the rows of
one (group, metric) into the plain line the dashboard shows. Pure pandas / NumPy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.analysis.correlate import accuracy_of, series
from grokviz.metrics.correlation import rise_window
from grokviz.metrics.onset import accuracy_onset, routing_onset
from grokviz.metrics.validity import bootstrap_ci, correlation, loo_range, permutation_p

COLUMNS = [names.RUN, names.GROUP, "metric", "check", "value", "low", "high", "n"]
ONSET_COLUMNS = [names.RUN, names.GROUP, "metric", "routing_onset", "accuracy_onset", "start_step",
                 "direction", "delta_bic"]
VALIDITY_METRICS = ("distance", "mean_cosine", "consistency", "training_loss")
EXPECTED_SIGN = {"distance": -1, "mean_cosine": 1, "consistency": 1, "training_loss": -1}
NO_ONSET = -1


def _row(group: str, metric: str, check: str, value: float, low: float = np.nan, high: float = np.nan,
         n: int = 0) -> dict:
    return {names.GROUP: group, "metric": metric, "check": check, "value": float(value), "low": float(low),
            "high": float(high), "n": int(n)}


def _window(steps: list[int], accuracy: np.ndarray, window) -> np.ndarray:
    """Mask of the checkpoints inside the correlation window ("auto": the accuracy's rise)."""
    steps_arr = np.asarray(steps)
    start, stop = rise_window(steps, accuracy) if window == "auto" else \
        (steps_arr[0], steps_arr[-1]) if window is None else window
    return (steps_arr >= start) & (steps_arr <= stop)


def checks(group: str, metric: str, values: np.ndarray, accuracy: np.ndarray, clock: np.ndarray,
           inside: np.ndarray, others: dict[str, np.ndarray], nulls: dict[str, list[np.ndarray]],
           bootstrap: int, permutations: int, seed: int) -> list[dict]:
    """Every check of one (group, metric) over the checkpoints `inside` the window."""
    x, y, c = values[inside], accuracy[inside], clock[inside]
    n = int((np.isfinite(x) & np.isfinite(y)).sum())
    rows = []
    if bootstrap:
        ci, partial = bootstrap_ci(x, y, B=bootstrap, seed=seed), bootstrap_ci(x, y, c, B=bootstrap, seed=seed)
        rows += [_row(group, metric, "pearson", ci.estimate, ci.low, ci.high, n),
                 _row(group, metric, "partial_given_step", partial.estimate, partial.low, partial.high, n)]
    else:
        rows += [_row(group, metric, "pearson", correlation(x, y), n=n),
                 _row(group, metric, "partial_given_step", correlation(x, y, c), n=n)]
    rows.append(_row(group, metric, "pearson_vs_step", correlation(x, c), n=n))
    rows.append(_row(group, metric, "loo_pearson", correlation(x, y), *loo_range(x, y), n=n))
    rows.append(_row(group, metric, "loo_partial", correlation(x, y, c), *loo_range(x, y, c), n=n))
    if permutations:
        rows += [_row(group, metric, "permutation_p", permutation_p(x, y, B=permutations, seed=seed), n=n),
                 _row(group, metric, "permutation_p_partial", permutation_p(x, y, c, B=permutations, seed=seed), n=n)]
    other = [correlation(x, acc[inside]) for acc in others.values()]
    other = [r for r in other if np.isfinite(r)]
    rows.append(_row(group, metric, "specificity", correlation(x, y), min(other, default=np.nan),
                     max(other, default=np.nan), len(other)))
    for name, draws in nulls.items():
        rs = np.array([correlation(draw[inside], y) for draw in draws])
        rs = rs[np.isfinite(rs)]
        value = rs.mean() if len(rs) else np.nan
        low, high = (np.percentile(rs, [2.5, 97.5]) if len(rs) > 1 else (value, value))
        rows.append(_row(group, metric, f"null_{name}", value, low, high, len(rs)))
    return rows


def validity_table(run: str, metrics: pd.DataFrame, acc: pd.DataFrame, steps: list[int], targets: dict[str, str],
                   nulls: pd.DataFrame, window, control: str = "step", bootstrap: int = 1000,
                   permutations: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Rows (run, group, metric, check, value, low, high, n) for every group of `targets` (group ->
    the accuracy group it is judged against) and every metric it has. `nulls` holds the null
    baselines. series (step, group, baseline, draw, metric, value)."""
    clock = (np.asarray(steps) if control == "step" else np.arange(len(steps))).astype(np.float64)
    rows = []
    for group, target in targets.items():
        accuracy = accuracy_of(acc, target, steps)
        if not np.isfinite(accuracy).any():
            continue
        inside = _window(steps, accuracy, window)
        others = {g: accuracy_of(acc, t, steps) for g, t in targets.items() if t != target and _peers(g, group)}
        for metric in VALIDITY_METRICS:
            values = series(metrics, group, "loss" if metric == "training_loss" else metric, steps)
            if not np.isfinite(values).any():
                continue
            draws = _null_series(nulls, group, metric, steps)
            rows += checks(group, metric, values, accuracy, clock, inside, others, draws, bootstrap,
                           permutations, seed)
    table = pd.DataFrame(rows, columns=COLUMNS[1:])
    table.insert(0, names.RUN, run)
    return table


def _peers(a: str, b: str) -> bool:
    """Groups compared with each other: two domains, or two Pretrain@p groups of one domain."""
    return ("/" in a) == ("/" in b) and (("/" not in a) or a.split("/")[0] == b.split("/")[0])


def _null_series(nulls: pd.DataFrame, group: str, metric: str, steps: list[int]) -> dict[str, list[np.ndarray]]:
    """null name -> one series per draw, aligned with `steps`."""
    if nulls is None or nulls.empty:
        return {}
    part = nulls[(nulls[names.GROUP] == group) & (nulls["metric"] == metric)]
    out: dict[str, list[np.ndarray]] = {}
    for (null, _draw), rows in part.groupby(["baseline", "draw"]):
        out.setdefault(str(null), []).append(rows.set_index(names.STEP)["value"].reindex(steps).to_numpy(float))
    return out


def onset_table(run: str, metrics: pd.DataFrame, acc: pd.DataFrame, steps: list[int], targets: dict[str, str],
                starts: dict[str, int], watched: tuple[str, ...] = ("distance", "mean_cosine", "consistency")
                ) -> pd.DataFrame:
    """Routing-only onset of every group's metric after its memorisation step, and the accuracy
    onset of its target, both as steps (-1: none)."""
    rows = []
    for group, start in starts.items():
        target = targets.get(group)
        accuracy = accuracy_of(acc, target, steps) if target else np.full(len(steps), np.nan)
        acc_step = accuracy_onset(steps, accuracy, start_step=start) if np.isfinite(accuracy).any() else None
        for metric in watched:
            values = series(metrics, group, metric, steps)
            if not np.isfinite(values).any():
                continue
            found = routing_onset(steps, values, start_step=start)
            rows.append({names.GROUP: group, "metric": metric,
                         "routing_onset": found.step if found.step is not None else NO_ONSET,
                         "accuracy_onset": acc_step if acc_step is not None else NO_ONSET,
                         "start_step": int(start), "direction": found.direction,
                         "delta_bic": found.delta_bic if found.delta_bic is not None else np.nan})
    table = pd.DataFrame(rows, columns=ONSET_COLUMNS[1:])
    table.insert(0, names.RUN, run)
    return table


def _beats(by: pd.DataFrame, check: str, r: float, sign: int) -> tuple[bool, float]:
    """Whether r is further in the expected direction than every value of a check's range (a null
    or the other groups); True when the check is missing. Also returns the check's value."""
    if check not in by.index or not np.isfinite(by.loc[check, "value"]):
        return True, np.nan
    row = by.loc[check]
    bound = row["low"] if sign < 0 else row["high"]
    bound = bound if np.isfinite(bound) else row["value"]
    return bool(sign * r > sign * bound), float(row["value"])


def verdict(rows: pd.DataFrame, metric: str) -> tuple[bool, str]:
    """The plain line for one (group, metric): does it track its accuracy beyond the time trend,
    and more than random groups of memorised samples (a change of the whole model) do?

    >>> rows = pd.DataFrame({"check": ["pearson", "partial_given_step", "pearson_vs_step"],
    ...                      "value": [-0.86, -0.63, -0.92], "low": [-0.9, -0.75, None], "high": [-0.8, -0.44, None]})
    >>> verdict(rows, "distance")
    (True, 'tracks held-out accuracy beyond the time trend: yes, partial r -0.63 [-0.75, -0.44]')
    """
    by = rows.set_index("check")
    if "pearson" not in by.index or not np.isfinite(by.loc["pearson", "value"]):
        return False, "no: the metric does not move over these checkpoints"
    r, sign = by.loc["pearson", "value"], EXPECTED_SIGN.get(metric, -1)
    partial = by.loc["partial_given_step"] if "partial_given_step" in by.index else None
    step_r = by.loc["pearson_vs_step", "value"] if "pearson_vs_step" in by.index else np.nan
    if np.sign(r) != sign:
        return False, f"no: moves against held-out accuracy (r {r:+.2f})"
    beyond = partial is not None and np.isfinite(partial["low"]) and np.isfinite(partial["high"]) and \
        (partial["high"] < 0 if sign < 0 else partial["low"] > 0)
    detail = (f"partial r {partial['value']:+.2f} [{partial['low']:+.2f}, {partial['high']:+.2f}]"
              if partial is not None and np.isfinite(partial["value"]) else "")
    if not beyond:
        return False, f"no: follows the step (r {r:+.2f} with accuracy, {step_r:+.2f} with the step, {detail})"
    above_null, null_r = _beats(by, "null_random_groups", r, sign)
    if not above_null:
        return False, (f"partly: beyond the time trend ({detail}), but random groups of memorised samples track it "
                       f"as well (r {null_r:+.2f}): a change of the whole model, not of this group")
    specific, other_r = _beats(by, "specificity", r, sign)
    note = "" if specific else " (other groups' accuracy tracks it as closely)"
    return True, f"tracks held-out accuracy beyond the time trend: yes, {detail}{note}"


def verdict_table(rows: pd.DataFrame | None, onsets: pd.DataFrame | None) -> pd.DataFrame | None:
    """group, metric, tracks, verdict, routing_onset, accuracy_onset for every (group, metric) of a
    `validity` table, with the onsets of `onset_table` (-1: none). None when there are no rows."""
    if rows is None or rows.empty:
        return None
    table = pd.DataFrame([(group, metric, *verdict(part, metric))
                          for (group, metric), part in rows.groupby([names.GROUP, "metric"], sort=True)],
                         columns=[names.GROUP, "metric", "tracks", "verdict"])
    if onsets is None:
        return table.assign(routing_onset=NO_ONSET, accuracy_onset=NO_ONSET)
    merged = table.merge(onsets[[names.GROUP, "metric", "routing_onset", "accuracy_onset"]],
                         on=[names.GROUP, "metric"], how="left")
    return merged.fillna({"routing_onset": NO_ONSET, "accuracy_onset": NO_ONSET}).astype(
        {"routing_onset": "int64", "accuracy_onset": "int64"})
