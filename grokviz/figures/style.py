"""The look every grokviz figure shares: expert colours, group colours, export settings, layout.

Owns the one fixed expert palette (expert id -> colour, the same on every page, checkpoint and
report), the categorical colours of groups, the Plotly `config` that makes the toolbar's
camera button save PNG or SVG in the browser (no kaleido needed), and `placeholder`, the
figure shown when there is nothing to draw. Imports numpy, pandas and plotly only; it must
never import Streamlit, DuckDB or torch. Start at `expert_color` and `export_config`.
"""

from __future__ import annotations

import re

import plotly.graph_objects as go
from plotly.colors import qualitative

# 74 distinct colours; expert e always gets EXPERT_PALETTE[e % 74].
EXPERT_PALETTE: tuple[str, ...] = tuple(qualitative.Dark24 + qualitative.Alphabet + qualitative.Light24)
OTHER_COLOR = "#BBBBBB"  # the bucket of experts outside the top-N
GROUP_PALETTE: tuple[str, ...] = tuple(qualitative.Set2 + qualitative.Dark2)
TEMPLATE = "plotly_white"
FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)
IMAGE_FORMATS = ("png", "svg")


def expert_color(expert: int) -> str:
    """The fixed colour of an expert id (negative ids: the "other" bucket).

    >>> expert_color(0) == expert_color(74), expert_color(-1)
    (True, '#BBBBBB')
    """
    return OTHER_COLOR if expert < 0 else EXPERT_PALETTE[int(expert) % len(EXPERT_PALETTE)]


def with_alpha(color: str, alpha: float) -> str:
    """`#RRGGBB` (or `rgb(...)`) as an `rgba(...)` string with the given opacity.

    >>> with_alpha("#ff0000", 0.5)
    'rgba(255,0,0,0.5)'
    """
    if color.startswith("#") and len(color) == 7:
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (int(v) for v in re.findall(r"\d+", color)[:3])
    return f"rgba({r},{g},{b},{alpha})"


def group_colors(groups) -> dict[str, str]:
    """A colour per group, stable for a given set of group names (sorted order).

    >>> group_colors(["b", "a"])["a"] == group_colors(["a"])["a"]
    True
    """
    return {g: GROUP_PALETTE[i % len(GROUP_PALETTE)] for i, g in enumerate(sorted(set(map(str, groups))))}


def export_config(name: str, image_format: str = "png") -> dict:
    """Plotly config: the camera button saves `name.png` (2x) or `name.svg`, drawn by the browser.

    >>> export_config("loss", "svg")["toImageButtonOptions"]["format"]
    'svg'
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "grokviz"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": image_format, "filename": safe, "scale": 2 if image_format == "png" else 1},
        "modeBarButtonsToRemove": ["sendDataToCloud"],
    }


def style(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Apply the shared template, font and margins (in place) and return the figure."""
    fig.update_layout(template=TEMPLATE, font=FONT, margin=dict(l=60, r=20, t=60 if title else 30, b=50))
    if title is not None:
        fig.update_layout(title=dict(text=title, x=0.01, xanchor="left"))
    if height is not None:
        fig.update_layout(height=height)
    return fig


def fraction_axis(fig: go.Figure, title: str, **where) -> None:
    """A 0..1 axis with fixed ticks and no grid of its own (for accuracy on a secondary axis)."""
    fig.update_yaxes(title=title, range=[0, 1.02], tickmode="array", tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0],
                     showgrid=False, **where)


def placeholder(message: str, height: int = 260) -> go.Figure:
    """An empty figure carrying a centred message (used when a builder gets no rows)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#666"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, height=height)


STAMP_NAME = "grokviz-stamp"  # the annotation that carries the settings line


def stamp(fig: go.Figure, text: str) -> go.Figure:
    """Put the one-line settings stamp (run, preset, settings that differ) under the figure, so an
    exported image says how it was made; a second call replaces the first. In place; returns fig.

    >>> fig = stamp(stamp(go.Figure(), "demo: preset paper"), "demo: preset legacy")
    >>> [a.text for a in fig.layout.annotations]
    ['demo: preset legacy']
    """
    kept = [a for a in fig.layout.annotations if a.name != STAMP_NAME]
    if len(kept) == len(fig.layout.annotations) - 1 and fig.layout.margin.b is not None and fig.layout.margin.b >= 60 \
            and any(a.name == STAMP_NAME and a.text == text for a in fig.layout.annotations):
        return fig  # stamped with this text already: left as it is (a figure shared between reruns is only read)
    fig.layout.annotations = kept
    fig.add_annotation(text=text, name=STAMP_NAME, xref="paper", yref="paper", x=0, y=0, yshift=-8,
                       xanchor="left", yanchor="top", showarrow=False, font=dict(size=10, color="#888"))
    bottom = fig.layout.margin.b if fig.layout.margin and fig.layout.margin.b is not None else 50
    fig.update_layout(margin=dict(b=max(bottom, 60)))
    return fig
