"""Grokking page: does routing tell when a group generalises, without a test set? (METHOD 8, 11)

Thin: what is judged (a domain against its held-out accuracy, or a Pretrain@p -> Test@q pair; the
one with the most memorised samples first) is bound to the view as `pair`; for each pathway
metric, the validity panel (`grokviz.figures.validity`: band over samples, null baselines in
grey, memorisation, routing-only onset and accuracy onset marked, the verdict) and the table of
every check; for a pair, the paper's Fig. 2 curves; then per-layer distances and Table 1.
"""

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.figures import frames, grokking, validity

METRICS = ("distance", "mean_cosine", "consistency")


def show_correlations(ctx) -> None:
    """Our correlation table, with the paper's Table 1 beside it for OLMoE runs."""
    st.subheader("Correlation with accuracy (paper Table 1)")
    olmoe = cache.model(ctx).get("model_type") == "olmoe"
    correlations = cache.analysis(ctx, "correlations")
    if correlations is None or correlations.empty:
        st.info("No correlation table yet; `grokviz analyze` computes it.")
    else:
        st.dataframe(grokking.correlation_table(correlations, with_paper=olmoe), hide_index=True, key="correlations")
        st.caption("pearson_vs_step and partial_given_step are the controls: a metric that only trends with time "
                   "correlates with the step as strongly as with accuracy.")
    if olmoe:
        st.caption("Paper Table 1 (OLMoE-1B-7B, Pearson / Spearman), for comparison:")
        st.dataframe(grokking.paper_table(), hide_index=True, key="paper_table")


def not_analysed(ctx) -> None:
    """No validity checks yet: say what is missing and how to get it."""
    st.info("No validity checks for this run yet. They need memorisation steps of training samples, "
            "accuracy at every checkpoint (`grokviz evaluate` or `grokviz import-accuracy`; the demo records it) "
            "and the analysis:")
    st.code(cache.analyze_command(ctx), language="bash")


def unpaired_note(ctx) -> None:
    """Say how many Pretrain@t groups were too small to pair, and the setting that decides it."""
    memorization = cache.analysis(ctx, "memorization")
    settings = cache.settings(ctx)
    if memorization is None or settings is None or "memorized" not in memorization:
        return
    sizes = memorization[memorization["memorized"]].groupby("pretrain_group").size()
    small = int((sizes < settings["min_group_size"]).sum())
    if small:
        st.caption(f"{small} of {len(sizes)} Pretrain@t groups have fewer than {settings['min_group_size']} memorised "
                   "samples and are not paired with test groups (`--min-group-size`): their metrics would be noise.")


def panels(ctx, row, n_layers: int) -> None:
    """The validity panel of every drawable metric, then the table of checks."""
    shown = grokking.drawable(list(METRICS), n_layers)
    verdicts = cache.verdicts(ctx, row.group)
    onsets = cache.onsets(ctx)
    target = "held-out accuracy" if row.kind == "domain" else f"accuracy of {row.target}"
    for metric in shown:
        onset = onsets[(onsets["group"] == row.group) & (onsets["metric"] == metric)]
        marks = {"memorised": int(onset["start_step"].iloc[0]) if len(onset) else None,
                 "routing onset": int(onset["routing_onset"].iloc[0]) if len(onset) else None,
                 "accuracy onset": int(onset["accuracy_onset"].iloc[0]) if len(onset) else None}
        fig = validity.validity_panel(cache.metric_series(ctx, row.group, metric), cache.accuracy_of(ctx, row.target),
                                      metric, cache.null_series(ctx, row.group, metric), marks,
                                      verdicts.get(metric, ""), target, title=f"{ctx.run}: {row.label}")
        widgets.show(fig, f"{ctx.run}-{row.group}-{metric}-validity", key=f"validity_{metric}")
    if "consistency" not in shown:
        st.caption("Consistency is not drawn: with two MoE layers there is one layer cosine c, and the paper's "
                   "C = 1 - c / (max c + 1e-8) is about 0 whatever the routing. The mean layer cosine is shown instead.")
    st.dataframe(validity.checks_table(cache.validity(ctx, row.group), verdicts), hide_index=True, key="checks")
    st.caption("Intervals: 95% bootstrap over checkpoints (correlations) and over samples (bands). Checkpoints of one "
               "run are a time series, so these intervals are optimistic; the partial correlation given the step and "
               "the nulls (grey) are the checks that separate a signal from a time trend. The routing onset is found "
               "without any accuracy: a logistic step beats a straight line by 10 BIC after memorisation.")


def pair_section(ctx, label: str) -> None:
    """The paper's Fig. 2 for one pair: training loss and test accuracy, memorised-at and delay."""
    pair = cache.pair_series(ctx, label)
    if pair is None:
        return
    st.caption(f"{pair['n_members']} memorised training samples in {pair['domain']}; memorised at step "
               f"{pair['t_mem']:,}, test items solved from step {pair['t_gen']:,}: delay "
               f"{pair['t_gen'] - pair['t_mem']:,} steps.")
    widgets.show(grokking.pair_curves(pair["loss"], pair["accuracy"], pair["t_mem"], pair["t_gen"],
                                      title=f"{ctx.run}: {label}: training loss and test accuracy"),
                 f"{ctx.run}-pair", key="pair_curves")


def scatter(ctx, row, n_layers: int) -> None:
    """The paper's Fig. 7: one metric against the accuracy, one point per checkpoint."""
    options = [m for m in grokking.drawable(viewstate.TREND_METRICS, n_layers)
               if not cache.metric_series(ctx, row.group, m).empty] or ["distance"]
    metric = widgets.choose("Metric against accuracy", "metric", options, widget=st.radio, horizontal=True)
    series = cache.metric_series(ctx, row.group, metric)
    widgets.show(grokking.metric_accuracy_scatter(series, cache.accuracy_of(ctx, row.target), metric,
                                                  title=f"{ctx.run}: {row.label}: {metric} vs accuracy"),
                 f"{ctx.run}-scatter-{metric}", key="metric_scatter")


def main() -> None:
    ctx = widgets.current()
    st.header(f"Grokking · {ctx.run}")
    targets = cache.targets(ctx)
    if targets.empty:
        not_analysed(ctx)
        return
    label = widgets.choose("Judge (largest first: domains against their held-out accuracy, Pretrain@p against the "
                           "test group it is paired with)", "pair", targets["label"].tolist())
    row = targets[targets["label"] == label].iloc[0]
    st.caption(f"{row.n:,} memorised training samples in {row.group}.")
    unpaired_note(ctx)
    n_layers = int(cache.model(ctx).get("n_layers", 0))
    panels(ctx, row, n_layers)
    if row.kind == "pair":
        pair_section(ctx, label)
    scatter(ctx, row, n_layers)
    metrics = cache.analysis(ctx, "group_metrics")
    if metrics is not None:
        rows = metrics[metrics["group"].astype(str) == row.group]
        widgets.show(grokking.layer_distance_grid(rows, frames.label_step(row.group),
                                                  title=f"{ctx.run}: {row.label}: pathway distance per layer"),
                     f"{ctx.run}-layer-distance", key="layer_distance")
    show_correlations(ctx)


main()
