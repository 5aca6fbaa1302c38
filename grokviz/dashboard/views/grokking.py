"""Grokking page: one Pretrain@p -> Test@q pair over training, its pathway metrics, and Table 1.

Thin: the pair and the scatter metric are bound to the view, the pair's series come from
`grokviz.cache.pair_series` (analysis tables pairs, memorization, group_metrics; accuracy), and
every figure from `grokviz.figures.grokking`. For OLMoE runs the paper's Table 1 sits beside ours.
Without pairs (no accuracy yet) it still shows each group's pathway metrics.
"""

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.figures import frames, grokking


def show_metrics(run: str, metrics, t_mem: int | None, n_layers: int) -> None:
    """Pathway distance, consistency and mean layer cosine with trends after t_mem; per-layer distance."""
    shown = grokking.drawable(["distance", "consistency", "mean_cosine"], n_layers)
    widgets.show(grokking.metric_trends(metrics, shown, t_mem,
                                        title="Pathway metrics; dashed: linear trend after memorisation"),
                 f"{run}-pair-metrics", key="metric_trends")
    if "consistency" not in shown:
        st.caption("Consistency is not drawn: with two MoE layers there is one layer cosine c, and the paper's "
                   "C = 1 - c / (max c + 1e-8) is about 0 whatever the routing. The mean layer cosine is shown instead.")
    widgets.show(grokking.layer_distance_grid(metrics, t_mem, title="Pathway distance per layer"),
                 f"{run}-layer-distance", key="layer_distance")


def show_correlations(ctx) -> None:
    """Our correlation table, with the paper's Table 1 beside it for OLMoE runs."""
    st.subheader("Correlation with accuracy")
    olmoe = cache.model(ctx).get("model_type") == "olmoe"
    correlations = cache.analysis(ctx, "correlations")
    if correlations is None or correlations.empty:
        st.info("No correlation table yet; `grokviz analyze` computes it together with the pairs.")
    else:
        st.dataframe(grokking.correlation_table(correlations, with_paper=olmoe), hide_index=True, key="correlations")
        st.caption("pearson_vs_step and partial_given_step are the controls: a metric that only trends with time "
                   "correlates with the step as strongly as with accuracy.")
    if olmoe:
        st.caption("Paper Table 1 (OLMoE-1B-7B, Pearson / Spearman), for comparison:")
        st.dataframe(grokking.paper_table(), hide_index=True, key="paper_table")


def without_pairs(ctx) -> None:
    """No pairs yet: say what is missing, and show any group's pathway metrics meanwhile."""
    st.info("No Pretrain@p -> Test@q pairs for this run yet. They need memorisation steps of training samples, "
            "per-item test correctness at every checkpoint (`grokviz evaluate` or `grokviz import-accuracy`) "
            "and the analysis:")
    st.code(cache.analyze_command(ctx), language="bash")
    group_metrics = cache.analysis(ctx, "group_metrics")
    if group_metrics is not None and not group_metrics.empty:
        names = sorted(group_metrics["group"].astype(str).unique())
        group = st.selectbox("Meanwhile, pathway metrics of a group", names, key="metric_group")
        show_metrics(ctx.run, group_metrics[group_metrics["group"].astype(str) == group], frames.label_step(group),
                     int(cache.model(ctx).get("n_layers", 0)))


def main() -> None:
    ctx = widgets.current()
    st.header(f"Grokking · {ctx.run}")
    labels = frames.pair_labels(cache.analysis(ctx, "pairs"))
    if not labels:
        without_pairs(ctx)
        return
    label = widgets.choose("Pair (training group -> test group it predicts)", "pair", labels)
    pair = cache.pair_series(ctx, label)
    st.caption(f"{pair['n_members']} memorised training samples in {pair['domain']}; memorised at step "
               f"{pair['t_mem']:,}, test items solved from step {pair['t_gen']:,}: "
               f"delay {pair['t_gen'] - pair['t_mem']:,} steps.")
    widgets.show(grokking.pair_curves(pair["loss"], pair["accuracy"], pair["t_mem"], pair["t_gen"],
                                      title="Training loss and test accuracy"), f"{ctx.run}-pair", key="pair_curves")
    if pair["accuracy"].empty:
        st.info("No test accuracy for this pair's items: record it with `grokviz evaluate` or `grokviz import-accuracy`.")
    metrics = pair["metrics"]
    n_layers = int(cache.model(ctx).get("n_layers", 0))
    show_metrics(ctx.run, metrics, pair["t_mem"], n_layers)
    present = [m for m in grokking.drawable(viewstate.TREND_METRICS, n_layers)
               if len(metrics) and (metrics["metric"] == m).any()] or ["distance"]
    metric = widgets.choose("Metric against accuracy", "metric", present, widget=st.radio, horizontal=True)
    series = metrics[metrics["metric"] == metric] if len(metrics) else metrics
    widgets.show(grokking.metric_accuracy_scatter(series, pair["accuracy"], metric, title=f"{metric} vs test accuracy"),
                 f"{ctx.run}-scatter-{metric}", key="metric_scatter")
    show_correlations(ctx)


main()
