"""The Overview's story: what happened in a run, per domain or task, in one figure and one table.

`headline` draws, for each domain (one row of panels), its training and held-out accuracy and
its main pathway metric over checkpoints, with the memorisation step, the routing-only onset
and the accuracy onset marked and the validity verdict in the legend. `findings_table` is one
row per domain: memorised at, routing onset, accuracy onset and generalised at, the delay, the
metric's correlations with their controls and the verdict. `group_timeline` draws one bar per
Pretrain@p group from its memorisation to its paired test group's generalisation. `monitor_curves`
draws a live monitor's per-group metrics over training steps. Inputs are long frames; numpy,
pandas and plotly only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokviz.figures.grokking import METRIC_LABELS
from grokviz.figures.style import fraction_axis, group_colors, placeholder, style

TRAIN_COLOR, TEST_COLOR, METRIC_COLOR = "#7f7f7f", "#d62728", "#1f77b4"
MARKS = {"memorised": ("#999999", "dot"), "routing onset": ("#2ca02c", "dash"), "accuracy onset": ("#d62728", "dash")}


def _short(verdict: str) -> str:
    """The verdict's first words for a legend: "yes", "no: follows the step", ...

    >>> _short("no: follows the step (r -0.57 ...)"), _short("tracks ...: yes, partial r -0.6")
    ('no: follows the step', 'yes')
    """
    if ": yes" in verdict:
        return "yes"
    return verdict.split(" (")[0].split(", ")[0] if verdict else "not checked"


def headline(curves: pd.DataFrame, marks: pd.DataFrame, verdicts: dict[str, str], metric: str = "distance",
             title: str | None = None) -> go.Figure:
    """One row per domain: accuracy (train dashed, held-out solid; left axis 0-1) and the pathway
    metric (right axis), marks as vertical lines. `curves`: domain, step, series ("train",
    "test" or the metric), value; `marks`: domain, mark (a key of MARKS), step.

    >>> curves = pd.DataFrame({"domain": "pow3", "step": [0, 10, 20] * 3, "series": ["train"] * 3 + ["test"] * 3
    ...                        + ["distance"] * 3, "value": [0, 1, 1, 0, 0.2, 0.9, 5, 4, 2]})
    >>> fig = headline(curves, pd.DataFrame({"domain": ["pow3"], "mark": ["routing onset"], "step": [10]}),
    ...                {"pow3": "no: follows the step"})
    >>> [t.name for t in fig.data]
    ['pow3: training accuracy', 'pow3: held-out accuracy', 'pow3: pathway distance, beyond the time trend: no: follows the step']
    """
    domains = sorted(curves["domain"].unique()) if len(curves) else []
    if not domains:
        return placeholder("Nothing to tell yet: the run needs checkpoints, accuracy and `grokviz analyze`")
    fig = make_subplots(rows=len(domains), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        specs=[[{"secondary_y": True}]] * len(domains), subplot_titles=domains)
    label = METRIC_LABELS.get(metric, metric)
    for row, domain in enumerate(domains, start=1):
        own = curves[curves["domain"] == domain]
        for series, name, color, dash, right in (("train", "training accuracy", TRAIN_COLOR, "dot", False),
                                                 ("test", "held-out accuracy", TEST_COLOR, "solid", False),
                                                 (metric, f"{label}, beyond the time trend: "
                                                          f"{_short(verdicts.get(domain, ''))}", METRIC_COLOR, "solid", True)):
            part = own[own["series"] == series].sort_values("step")
            if len(part):
                fig.add_trace(go.Scatter(x=part["step"], y=part["value"], mode="lines", name=f"{domain}: {name}",
                                         line=dict(color=color, dash=dash), legendgroup=domain),
                              row=row, col=1, secondary_y=right)
        for mark in marks[marks["domain"] == domain].itertuples():
            if mark.step is not None and mark.step >= 0:
                color, dash = MARKS.get(mark.mark, ("#555", "dash"))
                fig.add_vline(x=mark.step, line=dict(color=color, dash=dash, width=1.5), row=row, col=1,
                              annotation_text=f"{mark.mark} {int(mark.step):,}", annotation_position="top left",
                              annotation_font=dict(size=10, color=color))
        fraction_axis(fig, "accuracy", row=row, col=1, secondary_y=False)
        fig.update_yaxes(title=label, row=row, col=1, secondary_y=True)
    fig.update_xaxes(title="checkpoint step", row=len(domains), col=1)
    fig = style(fig, title=title, height=230 * len(domains) + 120)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.08, x=0))
    return fig


def findings_table(rows: list[dict]) -> pd.DataFrame:
    """The findings rows as a table without the columns that are empty for every domain.

    >>> findings_table([{"task": "pow3", "memorised at": 50, "routing onset": None}]).columns.tolist()
    ['task', 'memorised at']
    """
    table = pd.DataFrame(rows)
    return table.loc[:, [c for c in table.columns if table[c].notna().any() and (table[c].astype(str) != "").any()]]


def group_timeline(spans: pd.DataFrame, title: str | None = None) -> go.Figure:
    """One bar per Pretrain@p group: from p (memorised) to q (its paired test group generalised).
    `spans`: label, domain, start, end, n (members); the bar's customdata is its label.

    >>> spans = pd.DataFrame({"label": ["math: Pretrain@5 -> Test@125"], "domain": ["math"], "start": [5],
    ...                       "end": [125], "n": [40]})
    >>> group_timeline(spans).data[0].base.tolist()
    [5]
    """
    if spans.empty:
        return placeholder("No Pretrain@p -> Test@q pairs (they need held-out accuracy and groups of enough samples)")
    colors = group_colors(spans["domain"])
    fig = go.Figure()
    for domain, part in spans.groupby("domain", sort=True):
        fig.add_trace(go.Bar(base=part["start"], x=part["end"] - part["start"], y=part["label"], orientation="h",
                             name=domain, marker_color=colors[str(domain)], customdata=part["label"],
                             text=[f"{n} samples" for n in part["n"]], textposition="inside",
                             hovertemplate="%{y}<br>memorised %{base:,} → generalised %{x:,} steps later"
                                           "<extra></extra>"))
    fig.update_xaxes(title="checkpoint step")
    fig.update_yaxes(autorange="reversed", title=None)
    return style(fig, title=title, height=max(220, 28 * len(spans) + 110))


def monitor_curves(monitor: pd.DataFrame, title: str | None = None) -> go.Figure:
    """A live monitor's per-group distance, mean layer cosine and loss over training steps, with the
    routing onsets it found (rows metric `onset_<metric>`) marked.

    >>> m = pd.DataFrame({"step": [1, 2] * 3, "group": "g", "metric": ["distance"] * 2 + ["mean_cosine"] * 2
    ...                   + ["loss"] * 2, "value": [5.0, 4.0, 0.1, 0.2, 3.0, 1.0]})
    >>> len(monitor_curves(m).data)
    3
    """
    shown = [m for m in ("distance", "mean_cosine", "loss") if (monitor["metric"] == m).any()] if len(monitor) else []
    if not shown:
        return placeholder("The live monitor has written no rows yet")
    colors = group_colors(monitor["group"])
    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=[METRIC_LABELS.get(m, m) for m in shown])
    for col, metric in enumerate(shown, start=1):
        for group, part in monitor[monitor["metric"] == metric].groupby("group", sort=True):
            part = part.sort_values("step")
            fig.add_trace(go.Scatter(x=part["step"], y=part["value"], mode="lines", name=str(group),
                                     line=dict(color=colors[str(group)]), legendgroup=str(group), showlegend=col == 1),
                          row=1, col=col)
        onsets = monitor[monitor["metric"] == f"onset_{metric}"]
        for group, part in onsets.groupby("group", sort=True):
            step = float(part.sort_values("step")["value"].iloc[-1])
            if np.isfinite(step):
                fig.add_vline(x=step, line=dict(color=colors[str(group)], dash="dash"), row=1, col=col,
                              annotation_text=f"{group} onset {int(step):,}", annotation_font=dict(size=10))
        fig.update_xaxes(title="training step", row=1, col=col)
    return style(fig, title=title, height=340)
