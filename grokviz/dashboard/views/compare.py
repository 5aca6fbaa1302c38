"""Compare runs page: two or more runs of the store overlaid, aligned by step or fraction of training.

Thin: the runs (a multiselect bound to the URL's `runs`), the alignment and the group come from
the view; every table from `grokviz.dashboard.cache` (one cache entry per tuple of run contexts);
figures from `grokviz.figures.compare`. Shows the runs' settings side by side (differences
highlighted), held-out accuracy, the pathway metrics, the routing-only onsets and the validity verdicts.
Build a variant beside a run with `grokviz demo --run NAME --quick --layers 3` (or --experts, --top-k, ...).
"""

import shlex

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.figures import compare

METRICS = ("distance", "mean_cosine")
DIFFERS = "background-color: #fff3bf"


def controls(ctx) -> tuple[tuple[str, ...], str, str]:
    """The runs compared, the alignment and the group shown, bound to the view."""
    runs = cache.store_runs(ctx.root)
    c1, c2, c3 = st.columns([3, 1, 1])
    with c1:
        picked = widgets.choose_many("Runs to compare", "runs", runs, [ctx.run, *[r for r in runs if r != ctx.run]][:4],
                                     help="Runs of this store; the URL keeps them (runs=a,b).")
    with c2:
        by = widgets.choose("Align", "align", list(viewstate.ALIGN), format_func=viewstate.ALIGN.get, widget=st.radio)
    with c3:
        group = widgets.choose("Group", "group", [viewstate.ALL_GROUPS, *cache.known(ctx, tuple(runs)).groups])
    return picked, by, group


def settings(ctxs) -> None:
    """What defines each run, side by side; rows whose values differ are highlighted."""
    table = compare.settings_table(cache.settings_records(ctxs))
    st.subheader("Settings")
    st.caption(f"{int(table['differs'].sum())} of {len(table)} settings differ (highlighted).")
    styled = table.style.apply(lambda row: [DIFFERS if row["differs"] else ""] * len(row), axis=1)
    st.dataframe(styled, key="compare_settings", width="stretch")


def main() -> None:
    ctx = widgets.current()
    header = st.empty()
    runs, by, group = controls(ctx)
    header.header(f"Compare runs · {', '.join(runs) or 'none'}")
    if not runs:
        st.info("Pick at least one run (two or more to compare).")
        return
    if len(runs) == 1:
        st.caption("One run picked: add another to compare. Build a variant beside it with "
                   f"`grokviz demo --store {shlex.quote(ctx.root)} --quick --run v3 --layers 3`.")
    ctxs = cache.contexts(ctx.root, runs)
    stamp, last = " | ".join(cache.stamp(c) for c in ctxs), cache.last_steps(ctxs)

    def keep(frame):
        return frame if group == viewstate.ALL_GROUPS or frame.empty else frame[frame["group"].astype(str) == group]

    settings(ctxs)
    st.download_button("Meeting report of these runs (HTML)", data=lambda: cache.compare_report_html(ctxs),
                       on_click="ignore", file_name=f"grokviz-compare-{'-'.join(runs)}.html", mime="text/html",
                       icon=":material/download:", key="compare_report")
    unanalysed = [c for c in ctxs if cache.analysis(c, "group_metrics") is None]
    if unanalysed:
        st.info(f"No analysis yet for {', '.join(c.run for c in unanalysed)}: its pathway metrics, onsets and "
                "verdicts are missing. Run:")
        st.code("\n".join(cache.analyze_command(c) for c in unanalysed), language="bash")
    fig = compare.overlay(keep(cache.compare_accuracy(ctxs)), "accuracy", "held-out accuracy", runs, last, by,
                          y_range=(0, 1.02))
    widgets.show(fig, "compare-accuracy", key="compare_accuracy", stamp=stamp)
    for column, metric in zip(st.columns(len(METRICS)), METRICS):
        fig = compare.overlay(keep(cache.compare_metric(ctxs, metric).rename(columns={"value": metric})), metric,
                              compare.METRIC_NAMES[metric], runs, last, by)
        with column:
            widgets.show(fig, f"compare-{metric}", key=f"compare_{metric}", stamp=stamp)
    verdicts = keep(cache.compare_verdicts(ctxs))
    st.subheader("Is the signal real?")
    widgets.show(compare.onset_figure(verdicts, runs, last, by), "compare-onsets", key="compare_onsets", stamp=stamp)
    st.caption("Routing-only onset: where a pathway metric starts to move after memorisation, found without "
               "looking at accuracy; accuracy onset: where held-out accuracy starts to rise. Verdict: does the "
               "metric track held-out accuracy beyond the time trend (partial correlation given the step)?")
    if not verdicts.empty:
        shown = verdicts.assign(**{c: verdicts[c].where(verdicts[c] >= 0).astype("Int64")  # -1: none
                                   for c in ("routing_onset", "accuracy_onset")})
        st.dataframe(shown, key="compare_verdicts", hide_index=True, width="stretch",
                     column_config={"tracks": st.column_config.CheckboxColumn("tracks accuracy")})


main()
