"""Sample inspector figures: one sample's tokens, routing, loss and pathway history.

- `token_html`: the sample's text as HTML, each token tinted with its top-1 expert's colour
  at one layer (every token escaped; the only HTML builder in grokviz).
- `routing_heatmap`: token x layer grid of the top-1 expert, in the fixed expert palette.
- `sample_loss`: loss over checkpoints, with the memorisation step marked.
- `pathway_history`: the pathway at every checkpoint, one column per layer, with the layers
  that changed since the previous checkpoint highlighted.
Imports numpy, pandas and plotly only; never Streamlit or DuckDB.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from grokviz.figures.style import expert_color, placeholder, style, with_alpha

CHANGED, UNCHANGED = "#ffe08a", "#ffffff"


def token_html(tokens: pd.DataFrame) -> str:
    """Tokens (pos, token, expert, weight) as coloured, escaped HTML spans in position order.

    >>> token_html(pd.DataFrame({"pos": [0], "token": ["<b>"], "expert": [3], "weight": [0.5]}))[:60]
    '<div style="line-height:2.2;font-family:monospace"><span tit'
    >>> "&lt;b&gt;" in token_html(pd.DataFrame({"pos": [0], "token": ["<b>"], "expert": [3], "weight": [0.5]}))
    True
    """
    spans = []
    for row in tokens.sort_values("pos").itertuples(index=False):
        color = expert_color(int(row.expert))
        tip = html.escape(f"pos {row.pos} · expert {row.expert} · weight {row.weight:.3f}", quote=True)
        spans.append(f'<span title="{tip}" style="background:{with_alpha(color, 0.35)};'
                     f'border-bottom:3px solid {color};padding:1px 3px;margin:1px;border-radius:3px">'
                     f"{html.escape(str(row.token))}</span>")
    return '<div style="line-height:2.2;font-family:monospace">' + " ".join(spans) + "</div>"


def _expert_colorscale(n_experts: int) -> list:
    """A stepped colour scale giving integer z = e exactly expert e's colour over [0, n_experts)."""
    scale = []
    for e in range(n_experts):
        scale += [[e / n_experts, expert_color(e)], [(e + 1) / n_experts, expert_color(e)]]
    return scale


def routing_heatmap(tokens: pd.DataFrame, n_experts: int, title: str | None = None) -> go.Figure:
    """Top-1 expert of every (token, layer): rows = layers, columns = token positions.

    >>> t = pd.DataFrame({"pos": [0, 0, 1, 1], "token": ["a", "a", "b", "b"], "layer": [0, 1, 0, 1],
    ...                   "expert": [1, 2, 3, 1], "weight": 0.5})
    >>> routing_heatmap(t, 4).data[0].z.tolist()
    [[1, 3], [2, 1]]
    """
    if tokens.empty:
        return placeholder("No per-token routing stored for this sample")
    grid = tokens.pivot_table(index="layer", columns="pos", values="expert", aggfunc="first").sort_index()
    labels = tokens.drop_duplicates("pos").set_index("pos")["token"].reindex(grid.columns).astype(str)
    x = [f"{p}:{t}" for p, t in zip(grid.columns, labels)]
    fig = go.Figure(go.Heatmap(z=grid.values.astype(int), x=x, y=[f"L{l}" for l in grid.index], zmin=0, zmax=n_experts,
                               colorscale=_expert_colorscale(n_experts), showscale=False, text=grid.values.astype(int),
                               texttemplate="%{text}", xgap=1, ygap=1,
                               hovertemplate="%{x}<br>%{y}: expert %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="layer")
    fig.update_xaxes(title="token", tickangle=-45)
    return style(fig, title=title, height=max(260, 30 * len(grid) + 140))


def sample_loss(losses: pd.DataFrame, t_star: int | None = None, title: str | None = None) -> go.Figure:
    """One sample's loss over checkpoints; a dashed line at its memorisation step when known.

    >>> len(sample_loss(pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]}), t_star=2).layout.shapes)
    1
    """
    if losses.empty:
        return placeholder("No losses for this sample")
    losses = losses.sort_values("step")
    fig = go.Figure(go.Scatter(x=losses["step"], y=losses["loss"], mode="lines+markers", name="loss"))
    if t_star is not None and t_star >= 0:
        fig.add_vline(x=t_star, line=dict(dash="dash", color="#888"), annotation_text=f"t* = {t_star:,}")
    fig.update_xaxes(title="checkpoint step")
    fig.update_yaxes(title="loss")
    return style(fig, title=title, height=320)


def pathway_changes(pathways: pd.DataFrame) -> pd.DataFrame:
    """Layer strings per checkpoint (one column per layer) and which changed since the previous.

    >>> p = pd.DataFrame({"step": [1, 2], "pathway": ["1,2-3", "1,2-4"]})
    >>> pathway_changes(p)[["L0", "L1", "changed"]].values.tolist()
    [['1,2', '3', 0], ['1,2', '4', 1]]
    """
    rows = pathways.sort_values("step")
    layers = rows["pathway"].astype(str).str.split("-", expand=True)
    layers.columns = [f"L{i}" for i in range(layers.shape[1])]
    changed = (layers != layers.shift()).iloc[1:].sum(axis=1).reindex(layers.index, fill_value=0)
    return pd.concat([rows[["step"]], layers, changed.rename("changed").astype(int)], axis=1).reset_index(drop=True)


def pathway_history(pathways: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Table of the pathway at every checkpoint; cells that changed since the previous are highlighted.

    >>> fig = pathway_history(pd.DataFrame({"step": [1, 2], "pathway": ["1-3", "1-4"]}))
    >>> fig.data[0].cells.fill.color[2]
    ['#ffffff', '#ffe08a']
    """
    if pathways.empty:
        return placeholder("No pathways for this sample")
    table = pathway_changes(pathways)
    layer_cols = [c for c in table.columns if c.startswith("L")]
    prev = table[layer_cols].shift()
    fills = [[UNCHANGED] * len(table)]
    for col in layer_cols:
        fills.append([CHANGED if i > 0 and table[col][i] != prev[col][i] else UNCHANGED for i in range(len(table))])
    fills.append([CHANGED if n else UNCHANGED for n in table["changed"]])
    fig = go.Figure(go.Table(
        header=dict(values=["step", *layer_cols, "layers changed"], fill_color="#eee", align="left"),
        cells=dict(values=[table[c].astype(str).tolist() for c in ["step", *layer_cols, "changed"]],
                   fill=dict(color=fills), align="left", font=dict(family="monospace", size=12)),
    ))
    return style(fig, title=title, height=min(140 + 30 * len(table), 700))
