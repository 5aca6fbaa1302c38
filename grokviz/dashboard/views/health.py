"""Routing health page: router saturation, co-activation, entropy and expert load (METHOD 10).

Thin: checkpoint and layer bound to the view, the analysis tables saturation, coactivation,
health and load from `grokviz.cache.analysis`, figures from `grokviz.figures.health`.
"""

import pandas as pd
import streamlit as st

from grokviz.dashboard import cache, widgets
from grokviz.figures import health


def present(table: pd.DataFrame | None, name: str) -> bool:
    """True when the analysis table has rows; otherwise say which one is missing."""
    if table is None or table.empty:
        st.info(f"The analysis has no `{name}` rows for this run.")
        return False
    return True


def main() -> None:
    ctx = widgets.current()
    steps, shape = cache.steps(ctx), cache.model(ctx)
    n_layers, n_experts = int(shape.get("n_layers", 1)), int(shape.get("n_experts", 1))
    st.header(f"Routing health · {ctx.run}")
    tables = {name: cache.analysis(ctx, name) for name in ("saturation", "health", "coactivation", "load")}
    if not steps or all(t is None or t.empty for t in tables.values()):
        st.info("No routing-health tables for this run yet (saturation, co-activation, entropy, load). "
                "`grokviz analyze` computes them from the stored routing:")
        st.code(cache.analyze_command(ctx), language="bash")
        return

    saturation = tables["saturation"]
    if present(saturation, "saturation"):
        top_ks = sorted(int(k) for k in saturation["top_k"].unique())
        top_k = st.radio("Compare", top_ks, horizontal=True, key="saturation_top_k",
                         format_func=lambda k: "top-1 expert" if k == 1 else f"top-{k} set overlap")
        widgets.show(health.saturation_figure(saturation, top_k, title=f"{ctx.run}: router saturation per layer"),
                     f"{ctx.run}-saturation", key="saturation")
    if present(tables["health"], "health"):
        widgets.show(health.health_lines(tables["health"], title=f"{ctx.run}: entropy, load balance and top-k mass"),
                     f"{ctx.run}-health", key="health_lines")

    c1, c2 = st.columns(2)
    with c1:
        step = widgets.choose("Checkpoint", "step", steps, default=steps[-1], widget=st.select_slider)
    with c2:
        layer = widgets.choose("Layer", "layer", cache.layers(ctx), widget=st.select_slider) if n_layers > 1 else cache.layers(ctx)[0]
    left, right = st.columns(2)
    co, load = tables["coactivation"], tables["load"]
    with left:
        if present(co, "coactivation"):
            co = co[(co["step"] == step) & (co["layer"] == layer)]
            widgets.show(health.coactivation_heatmap(co, n_experts, title=f"{ctx.run}: co-activation at step {step:,}, layer {layer}"),
                         f"{ctx.run}-coactivation", key="coactivation")
    with right:
        if present(load, "load"):
            widgets.show(health.load_heatmap(load[load["step"] == step], n_experts, title=f"{ctx.run}: expert load at step {step:,}"),
                         f"{ctx.run}-load", key="load")


main()
