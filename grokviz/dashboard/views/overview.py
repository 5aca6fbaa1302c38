"""Overview page: the run's story first, then the store's inventory (collapsed).

Thin: the headline figure (per domain: accuracy, the main pathway metric, memorisation,
routing-only onset and accuracy onset, the verdict in the legend), the findings table, the
timeline of Pretrain@p groups (a click opens that pair on the Grokking page), checkpoint
integrity flags (identical weights, router jumps), the live
monitor's curves when training logged any, and the inventory. Data from `grokviz.dashboard.cache`,
figures from `grokviz.figures.story` and `grokviz.figures.overview`.
"""

import streamlit as st

from grokviz.dashboard import cache, widgets
from grokviz.figures import overview, story


def the_story(ctx) -> None:
    """Headline figure, findings table and group timeline; or what the run still needs."""
    frames = cache.story(ctx)
    if not frames["findings"]:
        st.info("This run has no validity checks yet, so the story (memorisation, routing onsets, generalisation) "
                "cannot be told. It needs per-checkpoint accuracy (`grokviz evaluate` or `grokviz import-accuracy`) "
                "and the analysis:")
        st.code(cache.analyze_command(ctx), language="bash")
        return
    widgets.show(story.headline(frames["curves"], frames["marks"], frames["verdicts"],
                                title=f"{ctx.run}: accuracy and pathway distance per task"),
                 f"{ctx.run}-story", key="headline")
    st.dataframe(story.findings_table(frames["findings"]), hide_index=True, key="findings")
    st.caption("Memorised at: where half of a task's memorised samples reached their loss threshold. Routing onset: "
               "where the pathway distance changes most after that, found without any accuracy. Accuracy onset: the "
               "first checkpoint from which held-out accuracy stays above the middle of its range. The verdict asks "
               "whether the distance tracks held-out accuracy beyond the time trend and beyond random groups.")
    spans = frames["spans"]
    if len(spans):
        picked = widgets.show(story.group_timeline(spans, title=f"{ctx.run}: Pretrain@p groups, memorised → generalised"),
                              f"{ctx.run}-timeline", key="timeline", select="points")
        chosen = widgets.selected_labels(picked)
        if chosen:
            widgets.open_on("grokking", "pair", chosen[0])


def checkpoint_checks(ctx) -> None:
    """Steps whose checkpoint may not be what its name says, collapsed under one warning line."""
    problems = cache.checkpoint_problems(ctx)
    if problems:
        with st.expander(f":material/warning: Checkpoint check: {len(problems)} step(s) to look at before reading "
                         "a finding into them", expanded=False):
            for line in problems:
                st.markdown(f"- {line}")
            st.caption("Identical weights or a router jump against the trend (`grokviz doctor` reports the same); "
                       "a loss spike in training can also cause a jump.")


def live_monitor(ctx) -> None:
    """The training loop's live pathway metrics, when it logged any."""
    rows = cache.monitor(ctx)
    if rows.empty:
        return
    st.subheader("Live monitor")
    widgets.show(story.monitor_curves(rows, title=f"{ctx.run}: probe pathways during training"),
                 f"{ctx.run}-monitor", key="monitor_curves")
    st.caption("Logged by the pathway monitor inside the training loop (a fixed probe set of training samples); "
               "dashed lines are the routing onsets it found, with no test set.")


def inventory(ctx) -> None:
    """The store's runs, this run's checkpoints and groups."""
    store, _ = cache.open_store(ctx.root)
    runs = store.runs()
    table = cache.runs_table(ctx.root, tuple(runs), tuple(cache.context(store, r).token for r in runs))
    st.dataframe(table, hide_index=True, key="runs_table")
    checkpoints = cache.checkpoints(ctx)
    widgets.show(overview.checkpoint_timeline(checkpoints, title=f"{ctx.run}: checkpoints"), f"{ctx.run}-checkpoints",
                 key="checkpoint_timeline")
    done = int(checkpoints["complete"].sum()) if len(checkpoints) else 0
    st.caption(f"{done} of {len(checkpoints)} checkpoints complete.")
    st.dataframe(checkpoints.dropna(axis=1, how="all"), hide_index=True, key="checkpoints_table")
    st.dataframe(cache.groups(ctx), hide_index=True, key="groups_table")


def main() -> None:
    ctx = widgets.current()
    st.header(f"Overview · {ctx.run}")
    if cache.steps(ctx):
        checkpoint_checks(ctx)
        the_story(ctx)
    live_monitor(ctx)
    with st.expander("Store inventory: runs, checkpoints, groups", expanded=not cache.steps(ctx)):
        inventory(ctx)


main()
