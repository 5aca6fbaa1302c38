"""Streamlit widgets bound to the view state, the URL, the map selection and figure display.

The view (a dict of validated values, see `grokviz.viewstate`) lives in
`st.session_state[VIEW]` for the whole session, so it survives page switches. `start_view`
fills it from the URL on a session's first run; `choose`, `choose_many`, `layer_range`, `number`
and `flag` give each widget its start value from the view and write the user's value back (`toggle`
is session-only);
`sync_url` mirrors the view into `st.query_params` after the page ran. The map's box or lasso
selection is kept under SELECTION. This module caches nothing and queries nothing itself
(data comes from `grokviz.dashboard.cache`) and builds no figures (`grokviz.figures`). Start at `choose`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from grokviz.dashboard import cache, viewstate
from grokviz.figures import style
from grokviz.store import activity

VIEW, PROBLEMS, SELECTION, IMAGE_FORMAT = "grokviz.view", "grokviz.problems", "grokviz.selection", "grokviz.image"
CTX = "grokviz.ctx"  # the cache.Ctx app.py resolved for this rerun; pages read it with `current()`
_MISSING = object()


VIEWS = Path(__file__).resolve().parent / "views"  # the page scripts; absolute: the entry script may live elsewhere


def page(name: str) -> Path:
    """The script of page `name` (for st.Page, st.page_link, st.switch_page)."""
    return VIEWS / f"{name}.py"


def current() -> cache.Ctx:
    """The run the sidebar picked, as resolved by app.py for this rerun."""
    if CTX not in st.session_state:  # a page script run without the app's frame
        st.info("Open the dashboard with `streamlit run app.py` (or `grokviz app`), not a page script alone.")
        st.stop()
    return st.session_state[CTX]


def selection(ctx: cache.Ctx) -> list[str]:
    """Sample ids selected on the map for this run (empty when none)."""
    chosen = st.session_state.get(SELECTION) or {}
    return list(chosen.get("ids", [])) if chosen.get("run") == ctx.run else []


def set_selection(ctx: cache.Ctx, step: int, ids: list[str]) -> None:
    """Remember a map selection (ids validated against the run's samples)."""
    valid = set(cache.samples(ctx)["sample_id"])
    st.session_state[SELECTION] = {"run": ctx.run, "step": step, "ids": [i for i in dict.fromkeys(ids) if i in valid]}


def selected_ids(event: Any) -> list[str]:
    """Sample ids (customdata) of the points in a Plotly selection event."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [str(p["customdata"][0] if isinstance(p.get("customdata"), list) else p["customdata"])
            for p in points if p.get("customdata") is not None]


def selected_labels(event: Any) -> list[str]:
    """The customdata labels of clicked bars or points (e.g. the timeline's pair labels)."""
    return selected_ids(event)


# --- view state, widgets and the URL ------------------------------------------------------------
def view() -> dict[str, Any]:
    """The current view (validated values), kept across pages for the session."""
    return st.session_state.setdefault(VIEW, {})


def start_view(raw: dict[str, str], known: viewstate.Known) -> None:
    """On a session's first run: the view from the URL; rejected values become messages."""
    if VIEW not in st.session_state:
        st.session_state[VIEW], st.session_state[PROBLEMS] = viewstate.parse_params(raw, known)


def _seed(key: str, options: list | None, default: Any, valid=None) -> str:
    """The widget key for view field `key`, seeded from the view when absent or invalid."""
    wkey = f"w.{key}"
    ok = valid or (lambda v: options is None or v in options)
    current = st.session_state.get(wkey, _MISSING)
    if current is _MISSING or not ok(current):
        value = view().get(key, default)
        st.session_state[wkey] = value if ok(value) else default
    return wkey


def open_on(name: str, key: str, value: Any) -> None:
    """Switch to page `name` showing `value` in its view field `key` (e.g. a pair picked elsewhere)."""
    view()[key] = value
    st.session_state[f"w.{key}"] = value
    st.switch_page(page(name))


def _keep(key: str, value: Any) -> Any:
    view()[key] = value
    return value


def choose(label: str, key: str, options: list, default: Any = None, widget=None, **kwargs) -> Any:
    """A selectbox (or `widget`: st.radio, st.select_slider, ...) bound to view field `key`."""
    options = list(options)
    wkey = _seed(key, options, options[0] if default is None and options else default)
    return _keep(key, (widget or st.selectbox)(label, options, key=wkey, **kwargs))


def choose_many(label: str, key: str, options: list, default: list, **kwargs) -> tuple:
    """A multiselect bound to view field `key` (a tuple of options, in the order picked)."""
    options = list(options)
    wkey = _seed(key, None, [v for v in default if v in options],
                 lambda v: isinstance(v, (list, tuple)) and all(x in options for x in v))
    if isinstance(st.session_state[wkey], tuple):  # seeded from the view
        st.session_state[wkey] = list(st.session_state[wkey])
    return _keep(key, tuple(st.multiselect(label, options, key=wkey, **kwargs)))


def layer_range(label: str, key: str, n_layers: int) -> tuple[int, int]:
    """A two-ended layer slider bound to view field `key` (inclusive range)."""
    def valid(v):
        return isinstance(v, tuple) and len(v) == 2 and 0 <= v[0] < v[1] < n_layers

    wkey = _seed(key, None, (0, n_layers - 1), valid)
    return _keep(key, tuple(int(v) for v in st.slider(label, 0, n_layers - 1, key=wkey)))


def number(label: str, key: str, low: float, high: float, default: float, **kwargs) -> float:
    """A number input bound to view field `key`."""
    wkey = _seed(key, None, default, lambda v: isinstance(v, (int, float)) and low <= v <= high)
    return _keep(key, st.number_input(label, min_value=low, max_value=high, key=wkey, **kwargs))


def flag(label: str, key: str, default: bool = False, **kwargs) -> bool:
    """A toggle bound to view field `key`: in the URL (as 1 or 0) only while it differs from `default`."""
    wkey = _seed(key, None, default, lambda v: isinstance(v, bool))
    value = st.toggle(label, key=wkey, **kwargs)
    if value == default:
        view().pop(key, None)
        return value
    return _keep(key, value)


def toggle(label: str, key: str, default: bool = False) -> bool:
    """A session-only toggle (not part of the URL)."""
    wkey = _seed(key, [True, False], default)
    return st.toggle(label, key=wkey)


def pick_sample(ctx: cache.Ctx, label: str = "Sample") -> str | None:
    """Search box plus a selectbox of matching samples, bound to view field `sample`."""
    query = st.text_input("Find a sample by id or text", key="w.sample_query", max_chars=200).strip()
    table = cache.samples(ctx)
    if query:
        options = cache.search_samples(ctx, query)["sample_id"].tolist()
    else:  # the map selection, then samples with per-token routing, then the first others
        options = [*selection(ctx), *table.loc[table["has_tokens"], "sample_id"], *table["sample_id"].head(200)]
    current = view().get("sample")
    if current in set(table["sample_id"]) and not query:
        options.insert(0, current)
    options = list(dict.fromkeys(options))
    if not options:
        st.info(f"No sample id or text contains {viewstate.shown(query)}.")
        return None
    marks = set(table.loc[table["has_tokens"], "sample_id"])
    return choose(label, "sample", options, format_func=lambda s: f"{s} ·  tokens" if s in marks else s)


RUN_SPECIFIC = ("step", "step2", "group", "sample", "layers", "layer", "topn", "pair", "metric")


def forget_run_state() -> None:
    """After the run changed: drop the view values that only made sense for the old run."""
    for key in RUN_SPECIFIC:
        view().pop(key, None)
        st.session_state.pop(f"w.{key}", None)
    st.session_state.pop(SELECTION, None)


def sync_url() -> None:
    """Mirror the view into the URL (only when it changed, so no extra reruns)."""
    params = viewstate.to_params(view())
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def show_problems() -> None:
    """Warn once about URL parameters that were rejected."""
    for problem in st.session_state.pop(PROBLEMS, []):
        st.warning(problem)


def show(fig, name: str, key: str | None = None, select: bool | str = False, stamp: str | None = None):
    """Draw a figure, stamped with the run's settings (or `stamp`: e.g. several runs'), with the export
    toolbar (PNG or SVG, as chosen in the sidebar). `select`: True for box and lasso selections,
    "points" for clicks."""
    style.stamp(fig, cache.stamp(current()) if stamp is None else stamp)
    config = style.export_config(name, st.session_state.get(IMAGE_FORMAT, "png"))
    if select:
        modes = ("points",) if select == "points" else ("box", "lasso")
        return st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=modes, config=config, theme=None)
    return st.plotly_chart(fig, key=key, config=config, theme=None)


# --- live refresh while something writes -----------------------------------------------------------
REFRESH_SECONDS = 3.0


def watch_store(store) -> dict:
    """Show the build progress of the store's writers and keep the page fresh while any is live or
    the store has no run yet: a fragment re-checks the store every few seconds and reruns the page
    when files landed."""
    state, runs = activity.activity(store), store.runs()
    for run, status in state["builds"].items():
        if status.get("stage") == "failed":
            st.error(f"The demo build of `{run}` failed: {status.get('error', 'see the terminal')}. Rerun "
                     f"`grokviz app --build-demo` (or `grokviz demo`) to resume it.")
        elif not runs:
            st.info(activity.progress_line(status) + ". The pages fill in as checkpoints, routing and the analysis "
                    "land.", icon=":material/hourglass_top:")
    if state["live"] or not runs:  # an empty store waits for its first run (a build, an extraction)
        _refresh(str(store.root), _fingerprint(store, state, runs))
    return state


def build_banner(state: dict, run: str) -> None:
    """A one-line banner above the page while `run` (or another run) is being written."""
    status = state["builds"].get(run)
    if status is not None and status.get("stage") not in ("done", "failed"):
        st.info(activity.progress_line(status) + ". This page refreshes itself as results land.",
                icon=":material/hourglass_top:")
    elif run in state["writing"]:
        st.info("New results for this run are being written (an extraction, an analysis or the live monitor); "
                "this page refreshes itself as they land.", icon=":material/sync:")


def _fingerprint(store, state: dict | None = None, runs: list[str] | None = None) -> str:
    """What the pages show depends on: every run's complete files, analyses and build stage
    (`state`, `runs`: the store's activity and runs when the caller has just read them)."""
    state = activity.activity(store) if state is None else state
    runs = store.runs() if runs is None else runs
    parts = [cache.context(store, run).token for run in runs]
    parts += [f"{run}:{status.get('stage')}" for run, status in state["builds"].items()]
    return "|".join(parts)  # a build that starts before its run exists changes it too


@st.fragment(run_every=REFRESH_SECONDS)
def _refresh(root: str, seen: str) -> None:
    """Rerun the whole page when the store's fingerprint moved on since this run drew it."""
    from grokviz.store.layout import Store

    if _fingerprint(Store(root, create=False)) != seen:
        st.rerun(scope="app")
