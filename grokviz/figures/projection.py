"""The pathway map: samples as points of a stored 2-D projection, coloured by one column.

Input is a frame of one checkpoint's points (sample_id, x, y and the colour column), taken
from the analysis table `projection` (UMAP per checkpoint started from the previous map, computed offline by `grokviz analyze`).
Nothing here projects anything and nothing imports umap. Axis ranges are passed in so every
checkpoint of a run is drawn on the same axes and points visibly move between checkpoints.
Each point carries its sample_id in `customdata`, which is how a box or lasso selection in the
dashboard turns into sample ids. Imports numpy, pandas and plotly only. Start at `pathway_map`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from grokviz.figures.style import group_colors, placeholder, style

WEBGL_ABOVE = 3000  # more points than this draw with WebGL instead of SVG
MISSING = "#CCCCCC"


def _trace_type(n_points: int):
    return go.Scattergl if n_points > WEBGL_ABOVE else go.Scatter


def _hover(color_by: str) -> str:
    return f"%{{customdata}}<br>{color_by}: %{{text}}<extra></extra>"


def _categorical(points: pd.DataFrame, color_by: str, categories: list[str]) -> list:
    """One trace per category (in the given order, empty ones included) for a stable legend."""
    colors = group_colors(categories)
    scatter = _trace_type(len(points))
    values = points[color_by].astype(str)
    traces = []
    for category in categories:
        rows = points[values == category]
        traces.append(scatter(x=rows["x"], y=rows["y"], mode="markers", name=category, customdata=rows["sample_id"],
                              text=[category] * len(rows), hovertemplate=_hover(color_by),
                              marker=dict(size=7, color=colors[category], line=dict(width=0.3, color="#333"))))
    return traces


def _continuous(points: pd.DataFrame, color_by: str, color_range: tuple[float, float] | None) -> list:
    """One coloured trace with a colour bar, plus grey points where the value is missing."""
    scatter = _trace_type(len(points))
    known = points[points[color_by].notna()]
    missing = points[points[color_by].isna()]
    cmin, cmax = color_range if color_range else (known[color_by].min(), known[color_by].max())
    traces = [scatter(x=known["x"], y=known["y"], mode="markers", name=color_by, customdata=known["sample_id"],
                      text=[f"{v:.4g}" for v in known[color_by]], hovertemplate=_hover(color_by), showlegend=False,
                      marker=dict(size=7, color=known[color_by], colorscale="Viridis", cmin=cmin, cmax=cmax,
                                  colorbar=dict(title=dict(text=color_by)), line=dict(width=0.3, color="#333")))]
    if len(missing):
        traces.append(scatter(x=missing["x"], y=missing["y"], mode="markers", name=f"no {color_by}",
                              customdata=missing["sample_id"], text=["n/a"] * len(missing),
                              hovertemplate=_hover(color_by), marker=dict(size=6, color=MISSING)))
    return traces


def map_traces(points: pd.DataFrame, color_by: str, categories: list[str] | None = None,
               color_range: tuple[float, float] | None = None) -> list:
    """The traces of one checkpoint's map: categorical when `categories` is given."""
    if categories is not None:
        return _categorical(points, color_by, categories)
    return _continuous(points, color_by, color_range)


def pathway_map(
    points: pd.DataFrame,
    color_by: str,
    categories: list[str] | None = None,
    ranges: tuple[tuple[float, float], tuple[float, float]] | None = None,
    color_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Scatter of samples at one checkpoint; categorical colours when `categories` is given.

    >>> pts = pd.DataFrame({"sample_id": ["a", "b"], "x": [0.0, 1.0], "y": [1.0, 0.0], "group": ["g", "h"]})
    >>> fig = pathway_map(pts, "group", categories=["g", "h"])
    >>> [t.name for t in fig.data], list(fig.data[0].customdata)
    (['g', 'h'], ['a'])
    """
    if points.empty:
        return placeholder("No projected samples at this checkpoint")
    fig = go.Figure(map_traces(points, color_by, categories, color_range))
    _axes(fig, ranges)
    fig.update_layout(dragmode="lasso", legend=dict(itemsizing="constant"))
    return style(fig, title=title, height=560)


def axis_ranges(points: pd.DataFrame, pad: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """x and y ranges covering every point (of every checkpoint), padded, so layouts share axes.

    >>> axis_ranges(pd.DataFrame({"x": [0.0, 10.0], "y": [0.0, 0.0]}))
    ((-0.5, 10.5), (-0.05, 0.05))
    """
    def span(values):
        width = float(values.max() - values.min()) or 1.0
        return (float(values.min()) - pad * width, float(values.max()) + pad * width)

    return span(points["x"]), span(points["y"])


def _axes(fig: go.Figure, ranges) -> None:
    """Hide the meaningless projection axes; fix their ranges when given."""
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False, scaleanchor="x", scaleratio=1)
    if ranges is not None:
        fig.update_xaxes(range=list(ranges[0]))
        fig.update_yaxes(range=list(ranges[1]))


def pathway_map_animation(points: pd.DataFrame, color_by: str, categories: list[str] | None = None,
                          title: str | None = None) -> go.Figure:
    """All checkpoints as animation frames (play button and step slider) on fixed axes.

    >>> pts = pd.DataFrame({"step": [1, 2], "sample_id": ["a", "a"], "x": [0.0, 1.0], "y": [0.0, 1.0],
    ...                     "group": ["g", "g"]})
    >>> len(pathway_map_animation(pts, "group", categories=["g"]).frames)
    2
    """
    if points.empty:
        return placeholder("No projected samples")
    ranges = axis_ranges(points)
    known = points[color_by].dropna() if categories is None else None
    color_range = (known.min(), known.max()) if known is not None and len(known) else None
    steps = sorted(points["step"].unique())
    frames = [go.Frame(name=str(s), data=map_traces(points[points["step"] == s], color_by, categories, color_range))
              for s in steps]
    fig = go.Figure(data=frames[0].data, frames=frames)
    _axes(fig, ranges)
    slider = dict(active=0, currentvalue=dict(prefix="step "), steps=[
        dict(label=str(s), method="animate", args=[[str(s)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
        for s in steps])
    play = dict(type="buttons", showactive=False, x=0, y=-0.08, xanchor="left", buttons=[
        dict(label="▶ play", method="animate", args=[None, dict(frame=dict(duration=700, redraw=True),
                                                               transition=dict(duration=500), fromcurrent=True)])])
    fig.update_layout(sliders=[slider], updatemenus=[play])
    return style(fig, title=title, height=600)
