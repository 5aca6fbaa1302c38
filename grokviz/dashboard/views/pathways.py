"""Pathways page: Sankey of layer-to-layer expert flow at two checkpoints side by side, or (toggle
`diff`) one Sankey coloured by each link's change between them, with the top pathways ("highways").

Thin: widgets bound to the view (source, group, sample, flow, layers, topn, step, step2, diff), link
tables aggregated by `grokviz.dashboard.cache` (DuckDB per token, NumPy per sample; a whole group's
per-sample flows read from the analysis, which stores them per checkpoint), figures from
`grokviz.figures.sankey`, link changes from `grokviz.figures.highways`. Every expert keeps its
colour and position in both panels.
"""

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.figures import highways, sankey


def controls(ctx, steps: list[int], n_layers: int, n_experts: int) -> dict:
    """Every control of the page, bound to the view."""
    table = cache.samples(ctx)
    c1, c2, c3 = st.columns(3)
    with c1:
        source = widgets.choose("Flow of", "source", list(viewstate.SOURCES), format_func=viewstate.SOURCES.get,
                                widget=st.radio, horizontal=True)
        group = widgets.choose("Group", "group", [viewstate.ALL_GROUPS, *sorted(table["group"].astype(str).unique())],
                               disabled=source != "group")
    with c2:
        flow = widgets.choose("Count", "flow", list(viewstate.FLOWS), format_func=viewstate.FLOWS.get,
                              default="token-top1" if table["has_tokens"].any() else "sample-argmax")
        top_n = widgets.choose("Experts per layer (rest bucketed as 'other')", "topn", list(range(1, n_experts + 1)),
                               default=min(8, n_experts), widget=st.select_slider)
    with c3:
        layers = widgets.layer_range("MoE layers (counted from the first)", "layers", n_layers)
        left = widgets.choose("Checkpoint (left)", "step", steps, default=steps[0], widget=st.select_slider)
        right = widgets.choose("Checkpoint (right)", "step2", steps, default=steps[-1], widget=st.select_slider)
    sample = widgets.pick_sample(ctx) if source == "sample" else None
    return dict(source=source, group=group, flow=flow, top_n=int(top_n), layers=layers, steps=(left, right),
                sample=sample)


def flow_samples(ctx, c: dict) -> tuple[str, ...] | None:
    """The sample ids a Sankey draws (None = all samples)."""
    if c["source"] == "sample":
        return (c["sample"],) if c["sample"] else ()
    if c["source"] == "selection":
        return tuple(widgets.selection(ctx))
    if c["group"] == viewstate.ALL_GROUPS:
        return None
    table = cache.samples(ctx)
    return tuple(table.loc[table["group"] == c["group"], "sample_id"])


def samples_to_draw(ctx, c: dict) -> tuple[tuple[str, ...] | None, str]:
    """The sample ids to draw (None = all) and how to describe them; may switch to per-sample flow."""
    if c["source"] == "selection" and not widgets.selection(ctx):
        st.info("Nothing is selected on the pathway map yet (box or lasso there). Showing all samples instead.")
        c["source"], c["group"] = "group", viewstate.ALL_GROUPS
    asked = flow_samples(ctx, c)
    if not c["flow"].startswith("token"):
        return asked, "all" if asked is None else str(len(asked))
    table = cache.samples(ctx)
    with_tokens = set(table.loc[table["has_tokens"], "sample_id"])
    ids = asked if asked is None else tuple(i for i in asked if i in with_tokens)
    if not with_tokens or ids == ():
        st.info("None of these samples has per-token routing stored (extraction keeps it for a subset: "
                "`--token-routes`). Showing per-sample flows (argmax expert) instead.")
        c["flow"] = "sample-argmax"
        return asked, "all" if asked is None else str(len(asked))
    if ids is None or len(ids) == len(asked):
        return ids, "all" if ids is None else str(len(ids))
    return ids, f"{len(ids)} of {len(asked)} (those with per-token routing)"


def links_at(ctx, c: dict, step: int, ids: tuple[str, ...] | None):
    """The link table of the chosen flow at one checkpoint."""
    if c["flow"].startswith("token"):
        return cache.token_links(ctx, step, ids, c["flow"] == "token-topk", c["layers"])
    tau = sankey.FLOW_TAU if c["flow"] == "sample-tau" else None
    if c["source"] == "group":  # a whole group, or all samples: the analysis stored these flows
        return cache.group_links(ctx, step, None if c["group"] == viewstate.ALL_GROUPS else c["group"], tau, c["layers"])
    return cache.sample_links(ctx, step, ids, tau, c["layers"])


def difference(ctx, c: dict, ids: tuple[str, ...] | None, n_experts: int) -> None:
    """One Sankey coloured by each link's change in share, then the top pathways ("highways")."""
    left, right = c["steps"]
    change = highways.link_change(links_at(ctx, c, left, ids), links_at(ctx, c, right, ids))
    fig = sankey.change_sankey(change, n_experts, c["layers"], c["top_n"], title=f"step {left:,} → {right:,}",
                               height=460 + 8 * c["top_n"], layer_labels=cache.layers(ctx))
    widgets.show(fig, f"{ctx.run}-sankey-change-step{left}-{right}", key="sankey_change")
    st.caption("Colour: how much of its layer pair's flow a link carries at the right checkpoint minus at the left "
               "(blue grew, red shrank, colour bar beside). Width: the larger of its two shares, so a link that "
               "vanished stays visible. Shares, not counts, so the two checkpoints compare directly.")
    asked = flow_samples(ctx, c)
    table = cache.highways(ctx, left, right, asked, 10)
    st.subheader("Highways: the most common pathways")
    st.caption("A sample's pathway: the experts it uses at every layer (the analysis' `pathway`). Share of the "
               "samples drawn on each pathway at the two checkpoints and at every checkpoint; the last row "
               "gathers all other pathways, so each share column sums to 100%. Each sparkline has its own scale.")
    st.dataframe(table, key="highways", hide_index=True, width="stretch", column_config={
        "pathway": st.column_config.TextColumn("pathway"),
        "left": st.column_config.NumberColumn(f"share at step {left:,}", format="percent"),
        "right": st.column_config.NumberColumn(f"share at step {right:,}", format="percent"),
        "change": st.column_config.NumberColumn("change", format="percent"),
        "trend": st.column_config.LineChartColumn("share over checkpoints (own scale)"),
    })


def main() -> None:
    ctx = widgets.current()
    steps, shape = cache.steps(ctx), cache.model(ctx)
    n_layers, n_experts = int(shape.get("n_layers", 0)), int(shape.get("n_experts", 0))
    st.header(f"Pathways · {ctx.run}")
    if not steps or n_layers < 2:
        st.info("Nothing to draw yet: the run needs a complete checkpoint and a model with two or more MoE layers.")
        return
    c = controls(ctx, steps, n_layers, n_experts)
    diff = widgets.flag("Difference view: one Sankey coloured by each link's change, and the top pathways", "diff",
                        help="Instead of the two checkpoints side by side (the URL keeps it: diff=1).")
    ids, described = samples_to_draw(ctx, c)
    per_token, (lo, hi) = c["flow"].startswith("token"), c["layers"]
    unit = "tokens" if per_token else "samples"
    st.caption(f"{described} samples · {viewstate.FLOWS[c['flow']]} · layers {lo}-{hi} · node height = {unit}")
    if diff:
        difference(ctx, c, ids, n_experts)
        return
    for column, step, key in zip(st.columns(2), c["steps"], ("sankey_left", "sankey_right")):
        fig = cache.built_once(  # the key holds everything the figure is made of
            (ctx, step, ids, described, unit, *(c[k] for k in ("source", "group", "flow", "top_n", "layers"))),
            lambda s=step: sankey.pathway_sankey(
                links_at(ctx, c, s, ids), n_experts, c["layers"], c["top_n"], title=f"{ctx.run}: {described} samples, step {s:,}",
                unit=unit, height=420 + 8 * c["top_n"], layer_labels=cache.layers(ctx)))
        with column:
            widgets.show(fig, f"{ctx.run}-sankey-step{step}", key=key)


main()
