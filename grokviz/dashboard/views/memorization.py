"""Memorisation page: per-group loss over checkpoints and the memorisation-step histogram (Fig. 1).

Thin: widgets bound to the view (group, curves, eps, delta), cached queries from `grokviz.dashboard.cache`
(t* is recomputed there with `grokviz.metrics.memorization`), figures from
`grokviz.figures.memorization`.
"""

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.figures import memorization


def loss_section(ctx) -> str:
    """Loss bands of one group or all; returns the chosen group."""
    losses = cache.losses(ctx)
    left, right = st.columns([2, 1])
    with right:
        group = widgets.choose("Group", "group", [viewstate.ALL_GROUPS, *sorted(losses["group"].astype(str).unique())])
        curves = int(widgets.number("Individual sample curves per group", "curves", 0, 50, 0, step=1))
    shown = losses if group == viewstate.ALL_GROUPS else losses[losses["group"].astype(str) == group]
    with left:
        widgets.show(memorization.loss_bands(shown, curves, title=f"{ctx.run}: {group}: loss over checkpoints, median and interquartile band"),
                     f"{ctx.run}-loss-bands", key="loss_bands")
    return group


def controls() -> tuple[str | float, float]:
    """eps (a number or "auto") and delta, bound to the view."""
    c1, c2 = st.columns(2)
    with c1:
        auto = widgets.toggle("Choose eps automatically (20-25% of each group memorised)", "eps_auto",
                              default=widgets.view().get("eps", "auto") == "auto")
        eps = "auto" if auto else widgets.number("eps: loss threshold", "eps", 0.01, 50.0, 1.0, step=0.1, format="%.2f")
        if auto:
            widgets.view()["eps"] = "auto"
    with c2:
        delta = widgets.number("delta: allowed distance from the final loss", "delta", 0.0, 5.0, 0.05, step=0.01,
                               format="%.3f")
    return eps, delta


def histogram_section(ctx, steps: list[int], group: str) -> None:
    """The t* histogram with the accuracy line, for the controls' eps and delta."""
    eps, delta = controls()
    t_star = cache.memorization(ctx, eps, delta)
    t_star = t_star if group == viewstate.ALL_GROUPS else t_star[t_star["group"].astype(str) == group]
    accuracy = cache.accuracy(ctx)
    accuracy = accuracy[accuracy["group"].astype(str).isin(set(t_star["group"].astype(str)))]  # not Test@q groups
    widgets.show(memorization.memorization_histogram(t_star, steps, accuracy, title=f"{ctx.run}: memorisation step t* and test accuracy"),
                 f"{ctx.run}-memorisation-histogram", key="memorization_histogram")
    used = t_star.groupby("group")["eps"].first()
    st.caption("eps per group: " + ", ".join(f"{g} = {e:.2f}" for g, e in used.items()) + f"; delta = {delta:.3f}.")
    if accuracy.empty:
        st.info("No test accuracy recorded for this run, so the accuracy line is missing. Add per-item "
                "correctness with `grokviz evaluate` or `grokviz import-accuracy`.")
    stored = cache.analysis(ctx, "memorization")
    if stored is not None and len(stored):
        st.caption(f"The stored analysis used eps = {', '.join(sorted({f'{e:.2f}' for e in stored['eps']}))} and "
                   f"delta = {stored['delta'].iloc[0]:.3f}; the histogram above follows the controls.")


def main() -> None:
    ctx = widgets.current()
    steps = cache.steps(ctx)
    st.header(f"Memorisation · {ctx.run}")
    if not steps:
        st.info("No checkpoint of this run is complete yet; losses appear here as soon as one is.")
        return
    group = loss_section(ctx)
    st.subheader("When were samples memorised?")
    if len(steps) < 2:
        st.info("This run has one checkpoint; a memorisation step needs at least two (it asks that the loss "
                "stays low up to the last checkpoint).")
        return
    histogram_section(ctx, steps, group)


main()
