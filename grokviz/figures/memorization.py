"""Memorisation page figures: per-group loss over checkpoints, and the t* histogram (paper Fig. 1).

Inputs are long frames: losses (step, group, sample_id, loss), memorisation steps (sample_id,
group, t_star; -1 = never) and accuracy (step, group, accuracy in [0, 1]). Nothing here decides
eps or delta or computes t*; that is `grokviz.metrics.memorization`. Imports numpy, pandas and
plotly only; never Streamlit or DuckDB. Start at `loss_bands`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokviz.figures.style import fraction_axis, group_colors, placeholder, style, with_alpha

NEVER = -1


def _quantiles(losses: pd.DataFrame) -> pd.DataFrame:
    """Per (group, step): median, 25th and 75th percentile of the loss, and the sample count."""
    grouped = losses.groupby(["group", "step"])["loss"]
    return pd.DataFrame({
        "median": grouped.median(), "q25": grouped.quantile(0.25), "q75": grouped.quantile(0.75),
        "n": grouped.count(),
    }).reset_index()


def loss_bands(losses: pd.DataFrame, samples_per_group: int = 0, title: str | None = None) -> go.Figure:
    """Median loss per group over checkpoints with the IQR band; optionally individual samples.

    `samples_per_group` > 0 adds that many samples' own curves (the first by sample_id).

    >>> df = pd.DataFrame({"step": [1, 2, 1, 2], "group": ["a"] * 4, "sample_id": ["x", "x", "y", "y"],
    ...                    "loss": [3.0, 1.0, 2.0, 0.5]})
    >>> [t.name for t in loss_bands(df).data]
    ['a IQR', 'a IQR', 'a median']
    """
    if losses.empty:
        return placeholder("No losses in the store for this run yet")
    colors = group_colors(losses["group"].unique())
    fig = go.Figure()
    for group, q in _quantiles(losses).groupby("group", sort=True):
        color = colors[str(group)]
        fig.add_trace(go.Scatter(x=q["step"], y=q["q75"], mode="lines", line=dict(width=0), name=f"{group} IQR",
                                 legendgroup=str(group), showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=q["step"], y=q["q25"], mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=with_alpha(color, 0.2), name=f"{group} IQR", legendgroup=str(group),
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=q["step"], y=q["median"], mode="lines+markers", name=f"{group} median",
                                 legendgroup=str(group), line=dict(color=color, width=2.5), customdata=q["n"],
                                 hovertemplate="step %{x}<br>median loss %{y:.3f}<br>n=%{customdata}<extra></extra>"))
    if samples_per_group > 0:
        _add_sample_lines(fig, losses, samples_per_group, colors)
    fig.update_xaxes(title="checkpoint step")
    fig.update_yaxes(title="loss (nats / token)")
    return style(fig, title=title, height=420)


def _add_sample_lines(fig: go.Figure, losses: pd.DataFrame, per_group: int, colors: dict[str, str]) -> None:
    """Thin lines for the first `per_group` samples of each group."""
    for group, rows in losses.groupby("group", sort=True):
        chosen = sorted(rows["sample_id"].unique())[:per_group]
        for sample_id, one in rows[rows["sample_id"].isin(chosen)].groupby("sample_id"):
            one = one.sort_values("step")
            fig.add_trace(go.Scatter(x=one["step"], y=one["loss"], mode="lines", name=str(sample_id),
                                     legendgroup=str(group), showlegend=False, opacity=0.35,
                                     line=dict(color=colors[str(group)], width=1),
                                     hovertemplate=f"{sample_id}<br>step %{{x}}<br>loss %{{y:.3f}}<extra></extra>"))


def memorization_histogram(
    t_star: pd.DataFrame,
    steps: list[int],
    accuracy: pd.DataFrame | None = None,
    title: str | None = None,
) -> go.Figure:
    """Samples memorised at each checkpoint before the last, stacked by group, with test accuracy.

    t* equal to the last step counts as not memorised (METHOD 5: memorised means before T).

    >>> t = pd.DataFrame({"sample_id": ["a", "b", "c"], "group": ["g"] * 3, "t_star": [1, 2, -1]})
    >>> acc = pd.DataFrame({"step": [1, 2], "group": ["g", "g"], "accuracy": [0.1, 0.9]})
    >>> fig = memorization_histogram(t, [1, 2], acc)
    >>> [t.type for t in fig.data], list(fig.data[0].y)
    (['bar', 'scatter'], [1])
    """
    if t_star.empty:
        return placeholder("No samples to histogram")
    colors = group_colors(t_star["group"].unique())
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    before = list(steps)[:-1]  # t* == T only means "settled at the last checkpoint": not memorised
    counts = t_star[t_star["t_star"].isin(before)].groupby(["group", "t_star"]).size().rename("n").reset_index()
    for group in sorted(t_star["group"].astype(str).unique()):
        n = counts[counts["group"].astype(str) == group].set_index("t_star")["n"].reindex(before, fill_value=0)
        fig.add_trace(go.Bar(x=before, y=n.tolist(), name=f"{group}: memorised at", marker_color=colors[group],
                             hovertemplate="t* = %{x}<br>%{y} samples<extra></extra>"), secondary_y=False)
    if accuracy is not None and not accuracy.empty:
        for group, rows in accuracy.groupby("group", sort=True):
            rows = rows.sort_values("step")
            fig.add_trace(go.Scatter(x=rows["step"], y=rows["accuracy"], mode="lines+markers",
                                     name=f"{group}: test accuracy",
                                     line=dict(color=colors.get(str(group), "#333"), dash="dot", width=2),
                                     hovertemplate="step %{x}<br>accuracy %{y:.2f}<extra></extra>"), secondary_y=True)
        fraction_axis(fig, "test accuracy", secondary_y=True)
    never = int((~t_star["t_star"].isin(before)).sum())
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="memorisation step t*")
    fig.update_yaxes(title="samples", secondary_y=False)
    fig.add_annotation(text=f"{never} of {len(t_star)} samples not memorised before the last checkpoint",
                       xref="paper", yref="paper", x=1, y=1.08, showarrow=False, xanchor="right",
                       font=dict(size=12, color="#666"))
    return style(fig, title=title, height=420)
