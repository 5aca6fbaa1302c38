"""Overview page: the store's runs, this run's checkpoints and groups, and where grokking was found.

Thin: reads the run from `widgets.current()`, queries through `grokviz.dashboard.cache`, draws with
`grokviz.figures.overview`. No SQL, no caching, no computation here.
"""

import streamlit as st

from grokviz.dashboard import cache, widgets
from grokviz.figures import overview


def findings(ctx) -> None:
    """The one-paragraph summary, or how to produce the analysis it needs."""
    st.subheader("Findings")
    steps = cache.steps(ctx)
    text = overview.findings_text(cache.analysis(ctx, "memorization"), cache.analysis(ctx, "pairs"), steps[-1]) if steps else None
    if text:
        st.markdown(text)
        return
    st.info("This run has no analysis yet, so memorisation steps, Pretrain -> Test pairs and grokking delays "
            "are not known. Produce them with:")
    st.code(cache.analyze_command(ctx), language="bash")


def main() -> None:
    ctx = widgets.current()
    st.header(f"Overview · {ctx.run}")
    store, _ = cache.open_store(ctx.root)
    runs = store.runs()
    st.dataframe(cache.runs_table(ctx.root, tuple(runs), tuple(cache.context(store, r).token for r in runs)),
                 hide_index=True, key="runs_table")
    checkpoints = cache.checkpoints(ctx)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Checkpoints")
        widgets.show(overview.checkpoint_timeline(checkpoints), f"{ctx.run}-checkpoints", key="checkpoint_timeline")
        done = int(checkpoints["complete"].sum()) if len(checkpoints) else 0
        st.caption(f"{done} of {len(checkpoints)} checkpoints complete. New checkpoints written by a running "
                   "`grokviz extract` appear when you reload.")
        st.dataframe(checkpoints, hide_index=True, key="checkpoints_table")
    with right:
        st.subheader("Groups")
        st.dataframe(cache.groups(ctx), hide_index=True, key="groups_table")
    findings(ctx)


main()
