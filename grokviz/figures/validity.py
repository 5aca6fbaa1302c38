"""Is the signal real? The validity panel of one group and metric, and the checks as a table.

`validity_panel`: the metric over checkpoints with its 95% band over samples, the null
baselines in grey (random equal-size groups: their mean and range; token identity: one line),
the accuracy it is judged against on the right axis, and three marks: where the window after
memorisation starts, the routing-only onset (found without accuracy) and the accuracy onset.
The verdict line is the subtitle. `checks_table` lays the `validity` rows of one group out as a
table: one row per metric, its verdict and every check with its interval.
Inputs are small long frames; imports numpy, pandas and plotly only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokviz.figures.grokking import METRIC_LABELS
from grokviz.figures.style import fraction_axis, placeholder, style, with_alpha

METRIC_COLOR, ACC_COLOR, NULL_COLOR = "#1f77b4", "#d62728", "#9a9a9a"
ONSET_COLORS = {"memorised": "#999999", "routing onset": "#2ca02c", "accuracy onset": ACC_COLOR}


def _band(series: pd.DataFrame, color: str, name: str) -> list[go.Scatter]:
    """A shaded band from `low` to `high` (nothing when the band is missing)."""
    if "low" not in series or not series["low"].notna().any():
        return []
    known = series[series["low"].notna()]
    return [go.Scatter(x=np.r_[known["step"], known["step"][::-1]], y=np.r_[known["high"], known["low"][::-1]],
                       fill="toself", fillcolor=with_alpha(color, 0.18), line=dict(width=0), hoverinfo="skip",
                       name=name, showlegend=True)]


def _null_traces(nulls: pd.DataFrame) -> list[go.Scatter]:
    """Random groups as mean with min-max band, token identity as one dotted line, all grey."""
    traces = []
    if nulls is None or nulls.empty:
        return traces
    random = nulls[nulls["baseline"] == "random_groups"]
    if len(random):
        stats = random.groupby("step")["value"].agg(["mean", "min", "max"]).reset_index()
        traces += _band(stats.rename(columns={"min": "low", "max": "high"}), NULL_COLOR, "random groups (range)")
        traces.append(go.Scatter(x=stats["step"], y=stats["mean"], mode="lines", name="random equal-size groups",
                                 line=dict(color=NULL_COLOR, dash="dash")))
    token = nulls[nulls["baseline"] == "token_identity"].sort_values("step")
    if len(token):
        traces.append(go.Scatter(x=token["step"], y=token["value"], mode="lines", name="token identity only",
                                 line=dict(color=NULL_COLOR, dash="dot")))
    return traces


def validity_panel(series: pd.DataFrame, accuracy: pd.DataFrame, metric: str, nulls: pd.DataFrame | None = None,
                   marks: dict[str, int | None] | None = None, verdict: str = "", accuracy_label: str = "held-out accuracy",
                   title: str | None = None) -> go.Figure:
    """One metric (step, value, low, high) against accuracy (step, accuracy), nulls in grey, onsets marked.

    >>> s = pd.DataFrame({"step": [1, 2, 3], "value": [9.0, 7.0, 5.0], "low": [8.5, 6.5, 4.5], "high": [9.5, 7.5, 5.5]})
    >>> a = pd.DataFrame({"step": [1, 2, 3], "accuracy": [0.0, 0.5, 1.0]})
    >>> [t.name for t in validity_panel(s, a, "distance", marks={"routing onset": 2}).data]
    ['95% band over samples', 'pathway distance', 'held-out accuracy']
    """
    if series is None or series.empty:
        return placeholder(f"No {METRIC_LABELS.get(metric, metric)} values for this group")
    series = series.sort_values("step")
    label = METRIC_LABELS.get(metric, metric)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for trace in _band(series, METRIC_COLOR, "95% band over samples") + _null_traces(nulls):
        fig.add_trace(trace, secondary_y=False)
    fig.add_trace(go.Scatter(x=series["step"], y=series["value"], mode="lines+markers", name=label,
                             line=dict(color=METRIC_COLOR)), secondary_y=False)
    if accuracy is not None and len(accuracy):
        fig.add_trace(go.Scatter(x=accuracy["step"], y=accuracy["accuracy"], mode="lines", name=accuracy_label,
                                 line=dict(color=ACC_COLOR, width=1.5)), secondary_y=True)
        fraction_axis(fig, accuracy_label, secondary_y=True)
    for name, step in (marks or {}).items():
        if step is not None and step >= 0:
            fig.add_vline(x=step, line=dict(color=ONSET_COLORS.get(name, "#555"), dash="dash", width=1.5),
                          annotation_text=f"{name} {step:,}", annotation_position="top left",
                          annotation_font=dict(size=11, color=ONSET_COLORS.get(name, "#555")))
    fig.update_xaxes(title="checkpoint step")
    fig.update_yaxes(title=label, secondary_y=False)
    subtitle = f"<br><sup>{verdict}</sup>" if verdict else ""
    fig = style(fig, title=(title or label) + subtitle, height=400)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, x=0), margin=dict(t=80))
    return fig


def _fmt(value: float, low: float = np.nan, high: float = np.nan) -> str:
    """`-0.63 [-0.75, -0.44]`, or `-0.63`, or `-`.

    >>> _fmt(-0.634, -0.75, -0.441), _fmt(0.2), _fmt(float("nan"))
    ('-0.63 [-0.75, -0.44]', '+0.20', '-')
    """
    if not np.isfinite(value):
        return "-"
    text = f"{value:+.2f}"
    return text + (f" [{low:+.2f}, {high:+.2f}]" if np.isfinite(low) and np.isfinite(high) else "")


def _check(by: pd.DataFrame, check: str, with_range: bool = True) -> str:
    """One check of a (check-indexed) frame, formatted."""
    if check not in by.index:
        return "-"
    row = by.loc[check]
    return _fmt(row["value"], row["low"], row["high"]) if with_range else _fmt(row["value"])


def checks_table(rows: pd.DataFrame, verdicts: dict[str, str]) -> pd.DataFrame:
    """One row per metric of one group: verdict, r and partial r with intervals, time trend,
    leave-one-out range, permutation p, specificity and the nulls.

    >>> rows = pd.DataFrame({"metric": "distance", "check": ["pearson", "pearson_vs_step"], "value": [-0.8, -0.9],
    ...                      "low": [-0.9, None], "high": [-0.6, None], "n": [30, 30]})
    >>> checks_table(rows, {"distance": "no: follows the step"})[["metric", "r with accuracy", "r with step"]].values.tolist()
    [['pathway distance', '-0.80 [-0.90, -0.60]', '-0.90']]
    """
    out = []
    for metric, part in rows.groupby("metric", sort=False):
        by = part.set_index("check")
        get = lambda check, with_range=True, by=by: _check(by, check, with_range)  # noqa: E731
        p = by.loc["permutation_p", "value"] if "permutation_p" in by.index else np.nan
        out.append({"metric": METRIC_LABELS.get(metric, metric), "verdict": verdicts.get(metric, ""),
                    "r with accuracy": get("pearson"), "partial r given step": get("partial_given_step"),
                    "r with step": get("pearson_vs_step", False), "leave one out": get("loo_pearson"),
                    "permutation p": f"{p:.3f}" if np.isfinite(p) else "-",
                    "own vs other groups": get("specificity"), "random groups": get("null_random_groups"),
                    "token identity": get("null_token_identity"),
                    "checkpoints": int(by["n"].max()) if len(by) else 0})
    return pd.DataFrame(out)
