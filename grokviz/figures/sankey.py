"""Sankey of layer-to-layer expert flow: link tables in, one Plotly Sankey out.

A *link table* has one row per (layer, source expert, target expert) with columns `layer`
(the source MoE layer, counted from 0; the target is the next MoE layer, layer + 1), `source`,
`target` and `value` (how many tokens
or samples, possibly fractional, flow that way). The dashboard aggregates it in DuckDB (per
token) or with `sample_links` (per sample) before anything is drawn, so the figure never sees
more than layers x experts^2 rows. `bucket_links` keeps the top-N experts of every layer and
folds the rest into an "other" node (expert id -1).

Every expert keeps one colour (`style.expert_color`) and one position everywhere: node x is
its layer, node y its expert id / n_experts, with arrangement "fixed", so two checkpoints side
by side line up node for node. `change_sankey` draws two checkpoints in one Sankey, each link
coloured by the change of its share (`grokviz.figures.highways.link_change`), with a colour bar.
Imports numpy, pandas and plotly only; never Streamlit or DuckDB. Start at `pathway_sankey`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from grokviz.figures.style import expert_color, placeholder, style, with_alpha

LINK_COLUMNS = ("layer", "source", "target", "value")
FLOW_TAU = 0.7  # the "sample-tau" flow: each sample spreads its unit over the experts of each layer that tau keeps
OTHER = -1  # expert id of the bucket of experts outside the top-N


def sample_links(weights: np.ndarray, layers: tuple[int, int] | None = None) -> pd.DataFrame:
    """Link table from per-sample flow weights of shape (n_samples, n_layers, n_experts).

    Each sample spreads one unit over the experts of each layer (argmax: a one-hot row; tau:
    its kept experts, renormalised); the flow from expert a at layer l to b at l + 1 is
    sum over samples of w[l, a] * w[l + 1, b], i.e. one matrix product per layer pair.

    >>> w = np.zeros((2, 2, 3)); w[0, 0, 1] = w[0, 1, 2] = w[1, 0, 1] = w[1, 1, 0] = 1
    >>> sample_links(w).to_dict("list")
    {'layer': [0, 0], 'source': [1, 1], 'target': [0, 2], 'value': [1.0, 1.0]}
    """
    weights = np.asarray(weights)  # (n, L, E); each layer is summed in float64, one at a time
    return _link_table(weights.shape[1], layers, lambda layer: weights[:, layer, :].astype(np.float64).T
                       @ weights[:, layer + 1, :].astype(np.float64))  # (E, E): source x target


def choice_links(choice: np.ndarray, n_experts: int, layers: tuple[int, int] | None = None) -> pd.DataFrame:
    """`sample_links` of one-hot weights, from each sample's one expert per layer (n_samples, n_layers):
    counts of (a at layer l, b at l + 1), without building the one-hot array.

    >>> choice_links(np.array([[1, 0], [1, 2]]), 3).to_dict("list")
    {'layer': [0, 0], 'source': [1, 1], 'target': [0, 2], 'value': [1.0, 1.0]}
    """
    choice = np.asarray(choice, dtype=np.int64)  # (n, L)
    return _link_table(choice.shape[1], layers, lambda layer: np.bincount(
        choice[:, layer] * n_experts + choice[:, layer + 1], minlength=n_experts * n_experts
    ).reshape(n_experts, n_experts).astype(np.float64))


def matrix_links(flow: np.ndarray, layers: tuple[int, int] | None = None) -> pd.DataFrame:
    """Link table of flows given as matrices, (n_layers - 1, E, E): flow[l, a, b] from expert a at
    layer l to b at l + 1 (what `sample_links` computes, summed elsewhere).

    >>> matrix_links(np.array([[[0.0, 2.0], [1.0, 0.0]]])).to_dict("list")
    {'layer': [0, 0], 'source': [0, 1], 'target': [1, 0], 'value': [2.0, 1.0]}
    """
    flow = np.asarray(flow, dtype=np.float64)
    return _link_table(len(flow) + 1, layers, lambda layer: flow[layer])


def _link_table(n_layers: int, layers: tuple[int, int] | None, flow_at) -> pd.DataFrame:
    """The non-zero links of each layer pair in `layers`, from `flow_at(l)`: the (E, E) flow from
    layer l to l + 1."""
    lo, hi = layers if layers is not None else (0, n_layers - 1)
    frames = []
    for layer in range(max(lo, 0), min(hi, n_layers - 1)):
        flow = flow_at(layer)
        src, dst = np.nonzero(flow > 1e-12)
        frames.append(pd.DataFrame({"layer": layer, "source": src, "target": dst, "value": flow[src, dst]}))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in LINK_COLUMNS})
    return pd.concat(frames, ignore_index=True).astype({"layer": "int64", "source": "int64", "target": "int64"})


def _node_totals(links: pd.DataFrame) -> pd.DataFrame:
    """Throughput per (layer, expert): the larger of what flows out of it and into it."""
    out = links.groupby(["layer", "source"], as_index=False)["value"].sum()
    out.columns = ["layer", "expert", "value"]
    into = links.assign(layer=links["layer"] + 1).groupby(["layer", "target"], as_index=False)["value"].sum()
    into.columns = ["layer", "expert", "value"]
    return pd.concat([out, into]).groupby(["layer", "expert"], as_index=False)["value"].max()


def bucket_links(links: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """Keep each layer's `top_n` experts by throughput (`value`); the rest become expert -1 ("other").
Every numeric column besides the keys is summed over the links folded together.

    >>> links = pd.DataFrame({"layer": [0, 0, 0], "source": [0, 1, 2], "target": [5, 5, 6],
    ...                       "value": [3.0, 2.0, 1.0]})
    >>> bucket_links(links, 1).to_dict("list")
    {'layer': [0, 0, 0], 'source': [-1, -1, 0], 'target': [-1, 5, 5], 'value': [1.0, 2.0, 3.0]}
    """
    if links.empty:
        return links
    totals = _node_totals(links).sort_values(["layer", "value", "expert"], ascending=[True, False, True])
    keep = totals.groupby("layer").head(int(top_n))
    width = int(max(links["source"].max(), links["target"].max())) + 2  # codes layer * width + expert
    kept = (keep["layer"] * width + keep["expert"]).to_numpy()
    src_ok = np.isin((links["layer"] * width + links["source"]).to_numpy(), kept)
    dst_ok = np.isin(((links["layer"] + 1) * width + links["target"]).to_numpy(), kept)
    bucketed = links.assign(source=links["source"].where(src_ok, OTHER), target=links["target"].where(dst_ok, OTHER))
    summed = [c for c in bucketed.columns if c not in ("layer", "source", "target")]
    grouped = bucketed.groupby(["layer", "source", "target"], as_index=False)[summed].sum()
    return grouped.astype({"layer": "int64", "source": "int64", "target": "int64"})


def strongest_links(links: pd.DataFrame, per_layer: int) -> tuple[pd.DataFrame, float]:
    """Keep each layer pair's `per_layer` largest links; also return the share of flow dropped.

    >>> links = pd.DataFrame({"layer": [0, 0, 0], "source": [0, 1, 2], "target": [0, 0, 0], "value": [6.0, 3.0, 1.0]})
    >>> kept, dropped = strongest_links(links, 2)
    >>> len(kept), round(dropped, 3)
    (2, 0.1)
    """
    kept = links.sort_values(["layer", "value"], ascending=[True, False]).groupby("layer").head(int(per_layer))
    total = float(links["value"].sum())
    return kept.sort_index(), (1.0 - float(kept["value"].sum()) / total) if total else 0.0


def _nodes(links: pd.DataFrame, n_experts: int, layers: tuple[int, int],
           layer_labels: list[int] | None = None) -> pd.DataFrame:
    """One row per drawn node: layer, expert, its index, label, colour and fixed x, y."""
    pairs = pd.concat([
        links[["layer", "source"]].set_axis(["layer", "expert"], axis=1),
        links[["layer", "target"]].assign(layer=links["layer"] + 1).set_axis(["layer", "expert"], axis=1),
    ]).drop_duplicates().sort_values(["layer", "expert"]).reset_index(drop=True)
    lo, hi = layers
    span = max(hi - lo, 1)
    pairs["x"] = 0.01 + 0.98 * (pairs["layer"] - lo) / span
    slot = pairs["expert"].where(pairs["expert"] >= 0, n_experts)  # "other" sits below every expert
    pairs["y"] = 0.01 + 0.98 * (slot + 0.5) / (n_experts + 1)
    name = (lambda l: layer_labels[l]) if layer_labels is not None else (lambda l: l)
    pairs["label"] = [f"L{name(l)} other" if e < 0 else f"L{name(l)} E{e}" for l, e in zip(pairs["layer"], pairs["expert"])]
    pairs["color"] = [expert_color(e) for e in pairs["expert"]]
    pairs["index"] = np.arange(len(pairs))
    return pairs


def pathway_sankey(
    links: pd.DataFrame,
    n_experts: int,
    layers: tuple[int, int] | None = None,
    top_n: int | None = None,
    title: str | None = None,
    unit: str = "tokens",
    height: int = 560,
    max_links: int = 400,
    layer_labels: list[int] | None = None,
) -> go.Figure:
    """Sankey of expert flow over `layers` (inclusive), nodes at fixed places, stable colours.

    Layers are MoE-layer ordinals; `layer_labels` names each by its decoder-layer index (L0, L2,
    ... when layer 1 is dense), default the ordinal itself.

    At most `max_links` links per layer pair are drawn (the strongest); the share of flow
    hidden that way is noted under the figure. Nodes and links are built with vectorised
    pandas, so 16 layers x 64 experts stays well under a second.

    >>> links = pd.DataFrame({"layer": [0, 1], "source": [2, 3], "target": [3, 3], "value": [1.0, 1.0]})
    >>> fig = pathway_sankey(links, n_experts=4)
    >>> list(fig.data[0].node.label)
    ['L0 E2', 'L1 E3', 'L2 E3']
    """
    parts = _prepare(links.loc[:, list(LINK_COLUMNS)], n_experts, layers, top_n, max_links, layer_labels)
    if parts is None:
        return placeholder(EMPTY)
    links, nodes, source, target, dropped = parts
    link_colors = np.array([with_alpha(c, 0.35) for c in nodes["color"]], dtype=object)[source]
    link = dict(source=source, target=target, value=links["value"].to_numpy(dtype=float), color=link_colors.tolist(),
                hovertemplate=f"%{{source.label}} → %{{target.label}}<br>%{{value:.3g}} {unit}<extra></extra>")
    return _figure(nodes, link, unit, title, height, dropped)


EMPTY = "No routing to draw: pick at least two layers and a non-empty set of samples"
CHANGE_SCALE = "RdBu"  # diverging: red = the link's share shrank, blue = it grew


def _prepare(links: pd.DataFrame, n_experts: int, layers: tuple[int, int] | None, top_n: int | None,
             max_links: int, layer_labels: list[int] | None):
    """Links within `layers`, bucketed and thinned; their nodes and the node index of each end
    (None when nothing is left to draw)."""
    if layers is None:
        layers = (int(links["layer"].min()), int(links["layer"].max()) + 1) if len(links) else (0, 1)
    lo, hi = layers
    links = links[(links["layer"] >= lo) & (links["layer"] < hi)]
    if links.empty or hi <= lo:
        return None
    if top_n is not None:
        links = bucket_links(links, top_n)
    links, dropped = strongest_links(links, max_links)
    nodes = _nodes(links, n_experts, (lo, hi), layer_labels)
    index = nodes.set_index(["layer", "expert"])["index"]
    source = index.reindex(pd.MultiIndex.from_arrays([links["layer"], links["source"]])).to_numpy()
    target = index.reindex(pd.MultiIndex.from_arrays([links["layer"] + 1, links["target"]])).to_numpy()
    return links, nodes, source, target, dropped


def _figure(nodes: pd.DataFrame, link: dict, unit: str, title: str | None, height: int, dropped: float) -> go.Figure:
    sankey = dict(  # a dict, not go.Sankey: the figure then validates its thousands of link colours once, not twice
        type="sankey", arrangement="fixed",
        node=dict(label=nodes["label"].tolist(), color=nodes["color"].tolist(), x=nodes["x"].to_numpy(),
                  y=nodes["y"].to_numpy(), pad=2, thickness=14, line=dict(width=0.5, color="#444"),
                  hovertemplate=f"%{{label}}<br>%{{value:.3g}} {unit}<extra></extra>"),
        link=link,
    )
    fig = style(go.Figure(sankey), title=title, height=height)
    if dropped > 0:
        fig.add_annotation(text=f"weakest links hidden: {dropped:.1%} of the flow", xref="paper", yref="paper",
                           x=1, y=-0.04, showarrow=False, xanchor="right", font=dict(size=11, color="#666"))
    return fig


def change_colors(change: np.ndarray, bound: float, alpha: float = 0.75) -> list[str]:
    """Diverging link colours: red where the share shrank, blue where it grew, grey near 0.

    >>> change_colors(np.array([-1.0, 0.0, 1.0]), 1.0, alpha=1)
    ['rgba(103,0,31,1)', 'rgba(247,247,247,1)', 'rgba(5,48,97,1)']
    """
    position = np.clip((np.asarray(change, dtype=float) / (2 * bound)) + 0.5, 0, 1) if bound > 0 else \
        np.full(len(change), 0.5)
    return [with_alpha(c, alpha) for c in sample_colorscale(CHANGE_SCALE, position.tolist())]


def change_sankey(
    change: pd.DataFrame,
    n_experts: int,
    layers: tuple[int, int] | None = None,
    top_n: int | None = None,
    title: str | None = None,
    height: int = 560,
    max_links: int = 400,
    layer_labels: list[int] | None = None,
) -> go.Figure:
    """One Sankey of two checkpoints: each link coloured by the change of its share between them.

    `change` is `grokviz.figures.highways.link_change(left, right)`: layer, source, target, left,
    right (shares of the layer pair's flow), change, value (= the larger share: the drawn width).
    A colour bar beside the Sankey reads the diverging scale (symmetric around no change).

    >>> left = pd.DataFrame({"layer": [0], "source": [0], "target": [1], "value": [2.0]})
    >>> right = pd.DataFrame({"layer": [0, 0], "source": [0, 2], "target": [1, 1], "value": [1.0, 1.0]})
    >>> from grokviz.figures.highways import link_change
    >>> fig = change_sankey(link_change(left, right), n_experts=4)
    >>> [trace.type for trace in fig.data], fig.data[1].marker.colorbar.title.text
    (['sankey', 'scatter'], 'change in share')
    """
    change = change.loc[:, ["layer", "source", "target", "left", "right"]]
    parts = _prepare(change.assign(value=change[["left", "right"]].max(axis=1)), n_experts, layers, top_n,
                     max_links, layer_labels)
    if parts is None:
        return placeholder(EMPTY)
    links, nodes, source, target, dropped = parts
    delta = (links["right"] - links["left"]).to_numpy(dtype=float)
    bound = max(float(np.abs(delta).max()), 1e-9)
    width = links[["left", "right"]].max(axis=1).to_numpy(dtype=float)  # after bucketing: the larger sum
    link = dict(source=source, target=target, value=width, color=change_colors(delta, bound),
                customdata=np.column_stack([links["left"], links["right"], delta]),
                hovertemplate="%{source.label} → %{target.label}<br>share %{customdata[0]:.1%} → "
                              "%{customdata[1]:.1%} (%{customdata[2]:+.1%})<extra></extra>")
    fig = _figure(nodes, link, "share of the flow (larger of the two)", title, height, dropped)
    fig.add_trace(go.Scatter(  # no points: only the colour bar of the links' scale
        x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
        marker=dict(colorscale=CHANGE_SCALE, cmin=-bound, cmax=bound, color=[0.0], showscale=True,
                    colorbar=dict(title=dict(text="change in share", side="right"), tickformat="+.0%",
                                  thickness=14, len=0.8))))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
