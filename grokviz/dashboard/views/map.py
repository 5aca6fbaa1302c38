"""Pathway map page: the stored 2-D projection of samples' pathways, one checkpoint at a time.

Thin: colour-by and checkpoint bound to the view, points from `grokviz.cache.map_points` (the
analysis table `projection`, computed offline by `grokviz analyze`; nothing is projected here),
figure from `grokviz.figures.projection`. A box or lasso selection is kept in session state as
"the selection", which the Pathways page and the inspector offer.
"""

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.figures import projection


def selection_panel(ctx, step: int, nonce: int) -> None:
    """What is selected, where it can go, and a way to clear it."""
    chosen = widgets.selection(ctx)
    if not chosen:
        st.caption("Draw a box or lasso on the map to select samples for the Pathways page and the inspector.")
        return
    st.success(f"{len(chosen)} samples selected: {', '.join(chosen[:8])}{' ...' if len(chosen) > 8 else ''}")
    c1, c2, c3 = st.columns(3)
    c1.page_link(widgets.page("pathways"), label="Their pathways (Sankey)", icon=":material/account_tree:")
    c2.page_link(widgets.page("inspector"), label="Inspect them one by one", icon=":material/search:")
    if c3.button("Clear selection", key="clear_selection"):
        widgets.set_selection(ctx, step, [])
        st.session_state["map_nonce"] = nonce + 1  # a new chart key also clears the chart's own selection
        st.rerun()


def main() -> None:
    ctx = widgets.current()
    st.header(f"Pathway map · {ctx.run}")
    color_by = widgets.choose("Colour by", "color", list(viewstate.COLOR_BY), format_func=viewstate.COLOR_BY.get,
                              widget=st.radio, horizontal=True)
    points = cache.map_points(ctx, color_by, widgets.view().get("eps", "auto"), widgets.view().get("delta", 0.05))
    if points is None:
        st.info("This run has no pathway projection yet. `grokviz analyze` computes it once (UMAP over "
                "the checkpoints, fixed seed) and stores it; the map then opens instantly:")
        st.code(cache.analyze_command(ctx), language="bash")
        return
    map_steps = sorted(int(s) for s in points["step"].unique())
    step = widgets.choose("Checkpoint", "step", map_steps, default=map_steps[-1], widget=st.select_slider)
    categories = sorted(points[color_by].dropna().astype(str).unique()) if color_by == "group" else None
    known = points[color_by].dropna() if categories is None else None
    color_range = (float(known.min()), float(known.max())) if known is not None and len(known) else None
    if widgets.toggle("Animate through all checkpoints", "animate"):
        widgets.show(projection.pathway_map_animation(points, color_by, categories), f"{ctx.run}-map-animation",
                     key="map_animation")
        return
    at_step = points[points["step"] == step]
    fig = projection.pathway_map(at_step, color_by, categories, projection.axis_ranges(points), color_range,
                                 title=f"{ctx.run}: pathway map, step {step:,}: {len(at_step)} samples")
    nonce = st.session_state.setdefault("map_nonce", 0)
    picked = widgets.selected_ids(widgets.show(fig, f"{ctx.run}-map-step{step}", key=f"map-{nonce}", select=True))
    if picked:
        widgets.set_selection(ctx, step, picked)
    selection_panel(ctx, step, nonce)


main()
