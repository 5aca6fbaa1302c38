"""The grokviz dashboard: router and shared frame around the page scripts in views/.

Run it with `grokviz app --store PATH`, or `streamlit run app.py -- --store PATH` from a checkout
(the two-line app.py at the top calls `main`; GROKVIZ_STORE also names the store; default: data).
This file only opens the store, restores the view from the URL on a session's first run,
draws the sidebar (run picker, image format, copy link, meeting report), registers every page
with `st.navigation` under a stable url_path, runs the current one, and mirrors the view back
into the URL. Data comes from `grokviz.dashboard.cache`, widgets and URL state from `grokviz.widgets`,
figures from `grokviz.figures`. It must never
import torch, transformers or umap.

The page scripts live in `views/`, not `pages/`: Streamlit treats a folder named `pages/`
next to the entry script as an old-style (v1) multipage app and runs a page script directly,
without this frame, whenever it has not yet seen `st.navigation` (AppTest on every rerun, and a
fresh server on its first, deep-linked request).
"""

from __future__ import annotations

import argparse
import os
import shlex

import streamlit as st

from grokviz.dashboard import cache, viewstate, widgets
from grokviz.errors import GrokvizError

HOME = "overview"  # the default page; its URL is the app's root
PAGES = [
    st.Page(widgets.page("overview"), title="Overview", icon=":material/home:", url_path=HOME, default=True),
    st.Page(widgets.page("memorization"), title="Memorisation", icon=":material/school:", url_path="memorization"),
    st.Page(widgets.page("pathways"), title="Pathways", icon=":material/account_tree:", url_path="pathways"),
    st.Page(widgets.page("map"), title="Pathway map", icon=":material/scatter_plot:", url_path="map"),
    st.Page(widgets.page("grokking"), title="Grokking", icon=":material/trending_up:", url_path="grokking"),
    st.Page(widgets.page("inspector"), title="Sample inspector", icon=":material/search:", url_path="inspector"),
    st.Page(widgets.page("health"), title="Routing health", icon=":material/monitor_heart:", url_path="health"),
    st.Page(widgets.page("compare"), title="Compare runs", icon=":material/compare_arrows:", url_path="compare"),
]


def store_root() -> str:
    """`--store PATH` after `--` on the command line, else $GROKVIZ_STORE, else `data`."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--store")
    args, _ = parser.parse_known_args()
    return args.store or os.environ.get("GROKVIZ_STORE") or "data"


def no_store(root: str, problem: str) -> None:
    st.title("grokviz")
    st.info(f"There is no grokviz store at `{root}` yet ({problem}). Build the demo store, or extract "
            "your own checkpoints into one, then reload this page:")
    st.code(f"grokviz demo --store {shlex.quote(root)}\n"
            f"grokviz extract --store {shlex.quote(root)} --run NAME --model CHECKPOINTS --samples FILE",
            language="bash")
    st.stop()


def sidebar(ctx: cache.Ctx):
    """Image format, the copy-link box (filled after the page ran) and the meeting report."""
    st.sidebar.radio("Toolbar camera saves", ["png", "svg"], key=widgets.IMAGE_FORMAT, horizontal=True,
                     format_func=str.upper, help="The camera icon above each figure downloads it in this format.")
    st.sidebar.caption("Copy link to this view")
    link_box = st.sidebar.empty()
    st.sidebar.download_button("Meeting report (HTML)", data=lambda: cache.report_html(ctx), on_click="ignore",
                               file_name=f"grokviz-{ctx.run}-report.html", mime="text/html", icon=":material/download:",
                               help="One standalone HTML file with this run's key figures; opens offline.")
    return link_box


def main() -> None:
    st.set_page_config(page_title="grokviz", page_icon=":material/hub:", layout="wide")
    page = st.navigation(PAGES)
    root = store_root()
    store, problem = cache.open_store(root)
    if store is None:
        no_store(root, problem)
    activity = widgets.watch_store(store)
    runs = store.runs()
    if not runs:
        if not activity["live"]:
            st.info(f"The store at `{root}` has no runs yet. Add one with `grokviz demo --store {shlex.quote(root)}` "
                    "or `grokviz extract`; this page shows it as soon as it lands.")
        st.stop()
    if widgets.VIEW not in st.session_state:
        raw = st.query_params.to_dict()
        first = raw.get("run") if raw.get("run") in runs else runs[0]
        widgets.start_view(raw, cache.known(cache.context(store, first), tuple(runs)))
    previous = widgets.view().get("run")
    run = widgets.choose("Run", "run", runs, widget=st.sidebar.selectbox)
    if previous is not None and run != previous:
        widgets.forget_run_state()
    ctx = st.session_state[widgets.CTX] = cache.context(store, run)
    widgets.build_banner(activity, run)
    link_box = sidebar(ctx)
    widgets.show_problems()
    try:
        page.run()
    finally:  # also when the page called st.stop() after a message
        widgets.sync_url()
        url = st.context.url
        if url and page.url_path == "":  # Streamlit appends the default page's path, which the browser cannot open
            url = url.removesuffix(f"/{HOME}")
        link_box.code(viewstate.link(url, widgets.view()), language=None, wrap_lines=True)


def run() -> None:
    """Entry point of every script that starts the dashboard (this file, the top-level app.py)."""
    try:
        main()
    except GrokvizError as err:  # e.g. a truncated store file: name it, as the CLI does, no traceback
        st.error(f"grokviz cannot use this store: {err}")


if __name__ == "__main__":  # `streamlit run grokviz/dashboard/app.py` runs this file as __main__
    run()
