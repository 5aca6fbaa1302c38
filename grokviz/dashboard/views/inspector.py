"""Sample inspector page: one sample's tokens by expert, routing heatmap, loss, pathway history, neighbours.

Thin: sample, checkpoint and layer are bound to the view (the sample search offers the map
selection first), data comes from `grokviz.dashboard.cache`, figures from `grokviz.figures.inspector`.
Samples without stored per-token routing show their token-averaged routing instead.
"""

import streamlit as st

from grokviz.dashboard import cache, widgets
from grokviz.figures import health, inspector


def routing_section(ctx, sample: str, record: dict, step: int, layer: int, n_experts: int) -> None:
    """Tokens coloured by expert and the token x layer heatmap, or the per-sample routing."""
    tokens = cache.sample_tokens(ctx, sample, step)
    if tokens.empty:
        st.info("No per-token routing was stored for this sample (extraction keeps it for a subset, see "
                "`--token-routes`); below is its token-averaged routing per layer instead.")
        st.text(record.get("text", ""))
        routing = cache.sample_routing(ctx, sample, step).rename(columns={"weight": "share"})
        widgets.show(health.load_heatmap(routing, n_experts, title=f"{ctx.run}: {sample}: router distribution at step {step:,}"),
                     f"{ctx.run}-{sample}-routing", key="sample_routing")
        return
    st.html(inspector.token_html(tokens[tokens["layer"] == layer]))
    widgets.show(inspector.routing_heatmap(tokens, n_experts, title=f"{ctx.run}: {sample}: top-1 expert per token and layer at step {step:,}"),
                 f"{ctx.run}-{sample}-heatmap", key="routing_heatmap")


def history_section(ctx, sample: str, steps: list[int]) -> None:
    """Loss over checkpoints (with t*) beside the pathway at every checkpoint."""
    left, right = st.columns(2)
    t_star = None
    if len(steps) > 1:
        memorized = cache.memorization(ctx, widgets.view().get("eps", "auto"), widgets.view().get("delta", 0.05))
        found = memorized.loc[memorized["sample_id"] == sample, "t_star"]
        t_star = int(found.iloc[0]) if len(found) else None
    with left:
        widgets.show(inspector.sample_loss(cache.sample_losses(ctx, sample), t_star, title=f"{ctx.run}: {sample}: loss over checkpoints"),
                     f"{ctx.run}-{sample}-loss", key="sample_loss")
    with right:
        widgets.show(inspector.pathway_history(cache.sample_pathways(ctx, sample),
                                               title=f"{ctx.run}: {sample}: pathway per checkpoint (changes highlighted)"),
                     f"{ctx.run}-{sample}-pathways", key="pathway_history")
        if not cache.has_analysis(ctx, "pathways"):
            st.caption("Pathways computed here from the stored routing with tau = 0.7 (the run has no analysis yet).")


def main() -> None:
    ctx = widgets.current()
    steps, shape = cache.steps(ctx), cache.model(ctx)
    n_layers, n_experts = int(shape.get("n_layers", 1)), int(shape.get("n_experts", 1))
    st.header(f"Sample inspector · {ctx.run}")
    if not steps:
        st.info("No checkpoint of this run is complete yet.")
        return
    c1, c2 = st.columns([3, 2])
    with c1:
        sample = widgets.pick_sample(ctx)
    with c2:
        step = widgets.choose("Checkpoint", "step", steps, default=steps[-1], widget=st.select_slider)
        layer = widgets.choose("Colour tokens by their top-1 expert at layer", "layer", cache.layers(ctx),
                               widget=st.select_slider) if n_layers > 1 else cache.layers(ctx)[0]
    if sample is None:
        return
    record = cache.sample_record(ctx, sample)
    st.markdown(f"**{sample}** · group `{record.get('group')}` · {record.get('split')} · {record.get('n_tokens')} tokens")
    routing_section(ctx, sample, record, step, layer, n_experts)
    history_section(ctx, sample, steps)
    st.subheader(f"Nearest samples by pathway at step {step:,}")
    st.dataframe(cache.nearest(ctx, sample, step), hide_index=True, key="nearest")


main()
