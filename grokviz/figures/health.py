"""Routing health figures (METHOD 10): saturation, co-activation, entropy, load.

Inputs are the analysis tables as long frames: saturation (step, layer, reference, top_k,
value), coactivation (expert_a, expert_b, p) at one step and layer, health (step, layer,
metric, value) and load (layer, expert, share) at one step. Layers are coloured along one
sequential scale everywhere (shallow = light, deep = dark). Imports numpy, pandas and plotly only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from grokviz.figures.style import placeholder, style

HEALTH_METRICS = {"entropy": "routing entropy (nats)", "load_cv": "load coefficient of variation",
                  "top_k_mass": "top-k probability mass"}


def layer_colors(layers) -> dict[int, str]:
    """A sequential colour per layer id (shallow light, deep dark).

    >>> len(layer_colors([0, 1, 2]))
    3
    """
    layers = sorted({int(l) for l in layers})
    span = max(len(layers) - 1, 1)
    return dict(zip(layers, sample_colorscale("Viridis", [0.9 - 0.85 * i / span for i in range(len(layers))])))


def _layer_lines(fig: go.Figure, rows: pd.DataFrame, colors: dict[int, str], col: int, legend: bool) -> None:
    for layer, one in rows.groupby("layer", sort=True):
        one = one.sort_values("step")
        fig.add_trace(go.Scatter(x=one["step"], y=one["value"], mode="lines+markers", name=f"layer {layer}",
                                 legendgroup=f"layer {layer}", showlegend=legend, line=dict(color=colors[int(layer)]),
                                 hovertemplate=f"layer {layer}<br>step %{{x}}<br>%{{y:.3f}}<extra></extra>"),
                      row=1, col=col)


def saturation_figure(saturation: pd.DataFrame, top_k: int | None = None, title: str | None = None) -> go.Figure:
    """Router saturation per layer over training: against the final and the previous checkpoint.

    >>> s = pd.DataFrame({"step": [1, 2] * 2, "layer": [0, 0, 1, 1], "reference": "final", "top_k": 1,
    ...                   "value": [0.2, 1.0, 0.3, 1.0]})
    >>> len(saturation_figure(s).data)
    2
    """
    if saturation.empty:
        return placeholder("No saturation values")
    if top_k is not None:
        saturation = saturation[saturation["top_k"] == top_k]
    references = [r for r in ("final", "previous") if (saturation["reference"] == r).any()]
    if not references:
        return placeholder(f"No saturation values for top-{top_k}")
    colors = layer_colors(saturation["layer"])
    fig = make_subplots(rows=1, cols=len(references), shared_yaxes=True,
                        subplot_titles=[f"vs {r} checkpoint" for r in references])
    for col, reference in enumerate(references, start=1):
        _layer_lines(fig, saturation[saturation["reference"] == reference], colors, col, legend=col == 1)
        fig.update_xaxes(title="checkpoint step", row=1, col=col)
    fig.update_yaxes(title="share of routings unchanged", range=[0, 1.02], row=1, col=1)
    return style(fig, title=title, height=400)


def health_lines(health: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Entropy, load CV and top-k mass per layer over training, one panel per metric.

    >>> h = pd.DataFrame({"step": [1, 2], "layer": [0, 0], "metric": ["entropy"] * 2, "value": [2.0, 1.5]})
    >>> health_lines(h).layout.annotations[0].text
    'routing entropy (nats)'
    """
    present = [m for m in HEALTH_METRICS if len(health) and (health["metric"] == m).any()]
    if not present:
        return placeholder("No entropy, load or top-k mass values")
    colors = layer_colors(health["layer"])
    fig = make_subplots(rows=1, cols=len(present), subplot_titles=[HEALTH_METRICS[m] for m in present])
    for col, metric in enumerate(present, start=1):
        _layer_lines(fig, health[health["metric"] == metric], colors, col, legend=col == 1)
        fig.update_xaxes(title="checkpoint step", row=1, col=col)
    return style(fig, title=title, height=380)


def coactivation_heatmap(coactivation: pd.DataFrame, n_experts: int, title: str | None = None) -> go.Figure:
    """P(b chosen | a chosen) over every pair of a token's top-k, as an expert x expert grid.

    >>> c = pd.DataFrame({"expert_a": [0, 1], "expert_b": [1, 0], "p": [0.5, 0.25]})
    >>> coactivation_heatmap(c, 2).data[0].z.tolist()
    [[nan, 0.5], [0.25, nan]]
    """
    if coactivation.empty:
        return placeholder("No co-activation values at this checkpoint and layer")
    grid = (coactivation.pivot_table(index="expert_a", columns="expert_b", values="p", aggfunc="mean")
            .reindex(index=range(n_experts), columns=range(n_experts)))
    fig = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns), y=list(grid.index), colorscale="Blues", zmin=0,
                               colorbar=dict(title=dict(text="P(b | a)")),
                               hovertemplate="a = %{y}, b = %{x}<br>P(b | a) = %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title="expert b")
    fig.update_yaxes(title="expert a", autorange="reversed")
    return style(fig, title=title, height=520)


def load_heatmap(load: pd.DataFrame, n_experts: int, title: str | None = None) -> go.Figure:
    """Share of routings per (layer, expert) at one checkpoint; the uniform share is the midpoint.

    >>> l = pd.DataFrame({"layer": [0, 0], "expert": [0, 1], "share": [0.7, 0.3]})
    >>> load_heatmap(l, 2).data[0].colorscale[1]
    (0.5, '#f7f7f7')
    """
    if load.empty:
        return placeholder("No expert load at this checkpoint")
    grid = load.pivot_table(index="layer", columns="expert", values="share", aggfunc="sum").reindex(columns=range(n_experts))
    uniform = 1.0 / n_experts
    top = max(float(np.nanmax(grid.values)), 2 * uniform)
    scale = [[0, "#2166ac"], [uniform / top, "#f7f7f7"], [1, "#b2182b"]]  # white = the uniform share
    fig = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns), y=[f"L{l}" for l in grid.index], zmin=0, zmax=top,
                               colorscale=scale, colorbar=dict(title=dict(text="share")),
                               hovertemplate="%{y}, expert %{x}<br>share %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title="expert")
    fig.update_yaxes(title="layer", autorange="reversed")
    return style(fig, title=title, height=max(260, 28 * len(grid) + 140))
