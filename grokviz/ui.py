"""Everything the dashboard reads from the store, cached: the only module with cache decorators.

The only place pages get data from (widgets bound to the URL are `grokviz.widgets`).
Every cached query takes a `Ctx` (store root, run, and a fingerprint of the run's complete
files): when `grokviz extract` or `analyze` adds files, the fingerprint changes on the next
rerun and the caches miss, so new checkpoints appear on refresh while old entries age out.
Queries run through `grokviz.tables.Tables` (an in-memory DuckDB over complete Parquet files,
so no lock is ever taken on the store) with parameterised SQL only.
It must never import torch, transformers or umap, never draw a widget, and never build a
figure (that is `grokviz.figures`); the only figure it assembles is the report, via `grokviz.report`.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import threading
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from grokviz import derive, report, results, viewstate
from grokviz.errors import GrokvizError
from grokviz.figures import sankey
from grokviz.metrics import pathways as pathway_metrics
from grokviz.store import Store
from grokviz.tables import Tables, read_step



class Ctx(NamedTuple):
    """Which run of which store, and a fingerprint of its files (part of every cache key)."""

    root: str
    run: str
    token: str


# --- opening the store -----------------------------------------------------------------
def open_store(root: str) -> tuple[Store | None, str | None]:
    """The store at `root`, or None and a message saying how to create one."""
    try:
        return Store(root, create=False), None
    except GrokvizError as err:
        return None, str(err)


def context(store: Store, run: str) -> Ctx:
    """The run's context; its token changes whenever a shard, accuracy part or analysis lands."""
    inputs = results.input_fingerprint(store, run)
    inputs["analysis"] = results.latest_key(store, run)
    token = hashlib.sha1(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return Ctx(str(store.root), run, token)


def analyze_command(ctx: Ctx) -> str:
    """The command that produces the analysis tables of this run."""
    return f"grokviz analyze --store {shlex.quote(ctx.root)} --run {shlex.quote(ctx.run)}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _tables(root: str, run: str, token: str) -> tuple[Tables, threading.Lock]:
    return Tables(Store(root, create=False), run), threading.Lock()


def _sql(ctx: Ctx, sql: str, params: list | tuple = ()) -> pd.DataFrame:
    """Run parameterised SQL on the run's views (one query at a time per snapshot)."""
    tables, lock = _tables(*ctx)
    with lock:
        return tables.query(sql, list(params))


# --- the run ---------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def model(ctx: Ctx) -> dict[str, Any]:
    """The run's model shape: model_type, n_layers, n_experts, top_k, ..."""
    return dict(Store(ctx.root, create=False).run_info(ctx.run).get("model", {}))


@st.cache_data(show_spinner=False, max_entries=16)
def runs_table(root: str, runs: tuple[str, ...], tokens: tuple[str, ...]) -> pd.DataFrame:
    """One row per run of the store: model shape, checkpoints and sample count."""
    store, rows = Store(root, create=False), []
    for run, token in zip(runs, tokens):
        ctx, shape = Ctx(root, run, token), store.run_info(run).get("model", {})
        rows.append({"run": run, "model_type": shape.get("model_type"), "layers": shape.get("n_layers"),
                     "experts": shape.get("n_experts"), "top_k": shape.get("top_k"),
                     "checkpoints": len(steps(ctx)), "samples": int(groups(ctx)["n"].sum())})
    return pd.DataFrame(rows)


@st.cache_data(show_spinner=False, max_entries=16)
def checkpoints(ctx: Ctx) -> pd.DataFrame:
    """step, tokens, revision, shards complete / expected, complete."""
    store = Store(ctx.root, create=False)
    shards = store.complete_shards(ctx.run)
    expected = max([count for _, (_, count) in shards], default=1)
    done = pd.Series([s for s, _ in shards], dtype="int64").value_counts()
    frame = _sql(ctx, "SELECT step, tokens, revision FROM checkpoints ORDER BY step")
    frame["shards"] = [f"{int(done.get(s, 0))}/{expected}" for s in frame["step"]]
    frame["complete"] = [int(done.get(s, 0)) >= expected for s in frame["step"]]
    return frame


@st.cache_data(show_spinner=False, max_entries=16)
def steps(ctx: Ctx) -> list[int]:
    """Checkpoint steps with per-sample results, ascending."""
    return [int(s) for s in _sql(ctx, "SELECT DISTINCT step FROM losses ORDER BY step")["step"]]


@st.cache_data(show_spinner=False, max_entries=16)
def groups(ctx: Ctx) -> pd.DataFrame:
    """group, split, n (samples)."""
    return _sql(ctx, 'SELECT "group", split, count(*) AS n FROM samples GROUP BY ALL ORDER BY ALL')


@st.cache_data(show_spinner=False, max_entries=16)
def samples(ctx: Ctx) -> pd.DataFrame:
    """sample_id, group, split, n_tokens, has_tokens (per-token routing stored), sorted by id."""
    return _sql(ctx, """SELECT s.sample_id, s."group", s.split, s.n_tokens,
                               s.sample_id IN (SELECT DISTINCT sample_id FROM token_routes) AS has_tokens
                        FROM samples s ORDER BY s.sample_id""")


@st.cache_data(show_spinner=False, max_entries=16)
def known(ctx: Ctx, runs: tuple[str, ...]) -> viewstate.Known:
    """The values URL parameters may take for this run."""
    shape, table = model(ctx), samples(ctx)
    pair_frame = analysis(ctx, "pairs")
    return viewstate.Known(
        runs=runs, steps=tuple(steps(ctx)), groups=tuple(sorted(table["group"].astype(str).unique())),
        samples=frozenset(table["sample_id"]), n_layers=int(shape.get("n_layers", 0)),
        n_experts=int(shape.get("n_experts", 0)), pairs=tuple(derive.pair_labels(pair_frame)),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def analysis(ctx: Ctx, name: str) -> pd.DataFrame | None:
    """One analysis table of the latest analysis, or None when there is none."""
    try:
        return results.read_analysis(Store(ctx.root, create=False), ctx.run, name)
    except GrokvizError:
        return None


# --- losses, accuracy, memorisation ------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def losses(ctx: Ctx) -> pd.DataFrame:
    """step, sample_id, group, split, loss of every sample at every checkpoint."""
    return _sql(ctx, 'SELECT step, sample_id, "group", split, loss FROM losses ORDER BY step, sample_id')


@st.cache_data(show_spinner=False, max_entries=16)
def accuracy(ctx: Ctx, split: str = "test") -> pd.DataFrame:
    """step, group, accuracy: the analysis table `accuracy_series` if present, else from `accuracy`."""
    series = analysis(ctx, "accuracy_series")
    if series is not None and not series.empty:
        return series[series["split"] == split][["step", "group", "accuracy"]].reset_index(drop=True)
    return _sql(ctx, """SELECT step, "group", avg(correct) AS accuracy FROM accuracy WHERE split = ?
                        GROUP BY ALL ORDER BY ALL""", [split])


@st.cache_data(show_spinner=False, max_entries=32)
def memorisation(ctx: Ctx, eps: str | float, delta: float) -> pd.DataFrame:
    """sample_id, group, t_star, eps recomputed for training samples with these settings."""
    return derive.memorisation_frame(losses(ctx), eps, delta)


@st.cache_data(show_spinner=False, max_entries=32)
def pair_series(ctx: Ctx, label: str) -> dict[str, Any] | None:
    """Loss, accuracy, steps and metrics of one Pretrain@p -> Test@q pair (None if unknown)."""
    pairs = analysis(ctx, "pairs")
    rows = [r for r, name in zip(pairs.itertuples(index=False), derive.pair_labels(pairs)) if name == label] \
        if pairs is not None else []
    if not rows:
        return None
    pair = rows[0]
    test_acc = _test_accuracy(ctx, str(pair.domain), str(pair.test_group))
    return derive.pair_series(pair, losses(ctx), analysis(ctx, "memorization"), test_acc, analysis(ctx, "group_metrics"))


def _test_accuracy(ctx: Ctx, domain: str, test_group: str) -> pd.DataFrame:
    """step, accuracy of a Test@q group: stored series, else its items' correctness, else the domain's."""
    series = accuracy(ctx)
    for name in (test_group, f"{domain}/{test_group}"):
        if (series["group"].astype(str) == name).any():
            return series[series["group"].astype(str) == name][["step", "accuracy"]]
    items = analysis(ctx, "generalization")
    t_gen = derive.label_step(test_group)
    if items is not None and t_gen is not None:
        chosen = items.loc[(items["t_hash"] == t_gen) & (items["group"].astype(str) == domain), "item_id"]
        by_item = _sql(ctx, """SELECT step, avg(correct) AS accuracy FROM accuracy WHERE split = 'test'
                               AND "group" = ? AND item_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1 ORDER BY 1""",
                       [domain, [str(i) for i in chosen]])
        if len(by_item):
            return by_item
    return series[series["group"].astype(str) == domain][["step", "accuracy"]]


# --- pathways and flows ------------------------------------------------------------------
def _ids_clause(ids: tuple[str, ...] | None) -> tuple[str, list]:
    return ("", []) if ids is None else (" AND sample_id IN (SELECT unnest(?::VARCHAR[]))", [list(ids)])


@st.cache_data(show_spinner=False, max_entries=64)
def token_links(ctx: Ctx, step: int, ids: tuple[str, ...] | None, all_ranks: bool,
                layers: tuple[int, int]) -> pd.DataFrame:
    """Link table of per-token flows (top-1, or all top-k weighted), aggregated in DuckDB."""
    clause, extra = _ids_clause(ids)
    return _sql(ctx, f"""
        WITH t AS (SELECT sample_id, pos, layer, expert,
                          weight / sum(weight) OVER (PARTITION BY sample_id, pos, layer) AS w
                   FROM token_routes WHERE step = ? AND layer BETWEEN ? AND ? AND (? OR rank = 0){clause})
        SELECT CAST(a.layer AS BIGINT) AS layer, CAST(a.expert AS BIGINT) AS source,
               CAST(b.expert AS BIGINT) AS target, sum(a.w * b.w) AS value
        FROM t a JOIN t b ON a.sample_id = b.sample_id AND a.pos = b.pos AND b.layer = a.layer + 1
        GROUP BY ALL ORDER BY ALL""", [step, layers[0], layers[1], all_ranks, *extra])


@st.cache_resource(max_entries=4, show_spinner=False)
def _distributions(ctx: Ctx, step: int) -> tuple[pd.Series, np.ndarray]:
    """sample_id -> row, and the token-averaged router distributions (n, L, E) at a step."""
    frame, dist = read_step(Store(ctx.root, create=False), ctx.run, step)
    return pd.Series(np.arange(len(frame)), index=frame["sample_id"]), dist


@st.cache_resource(max_entries=4, show_spinner=False)
def _weights(ctx: Ctx, step: int, tau: float | None) -> np.ndarray:
    """Per-sample Sankey weights of every sample at a step, (n, L, E) float32 (ranked once)."""
    return derive.flow_weights(_distributions(ctx, step)[1], tau).astype(np.float32)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_links(ctx: Ctx, step: int, ids: tuple[str, ...] | None, tau: float | None,
                 layers: tuple[int, int]) -> pd.DataFrame:
    """Link table of per-sample flows: argmax expert (tau None) or tau-kept experts, weighted."""
    index, dist = _distributions(ctx, step)
    if ids is None:
        return sankey.sample_links(_weights(ctx, step, tau), layers)
    rows = index.reindex(list(ids)).dropna().astype(int).to_numpy()
    if len(rows) * 4 < len(index):  # a sample or a small selection: rank only its rows
        return sankey.sample_links(derive.flow_weights(dist[rows], tau), layers)
    return sankey.sample_links(_weights(ctx, step, tau)[rows], layers)


def flow_samples(ctx: Ctx, source: str, group: str, sample: str | None,
                 selected: list[str]) -> tuple[str, ...] | None:
    """The sample ids a Sankey draws (None = all samples)."""
    if source == "sample":
        return (sample,) if sample else ()
    if source == "selection":
        return tuple(selected)
    if group == viewstate.ALL_GROUPS:
        return None
    table = samples(ctx)
    return tuple(table.loc[table["group"] == group, "sample_id"])


# --- one sample ----------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64)
def search_samples(ctx: Ctx, text: str, limit: int = 200) -> pd.DataFrame:
    """sample_id, group, text of samples whose id or text contains `text` (case-insensitive)."""
    return _sql(ctx, """SELECT sample_id, "group", text FROM samples
                        WHERE contains(lower(sample_id), lower(?)) OR contains(lower(text), lower(?))
                        ORDER BY sample_id LIMIT ?""", [text, text, limit])


@st.cache_data(show_spinner=False, max_entries=64)
def sample_record(ctx: Ctx, sample_id: str) -> dict[str, Any]:
    """The sample's row of `samples` as a dict (empty when unknown)."""
    rows = _sql(ctx, "SELECT * FROM samples WHERE sample_id = ?", [sample_id])
    return rows.iloc[0].to_dict() if len(rows) else {}


@st.cache_data(show_spinner=False, max_entries=64)
def sample_tokens(ctx: Ctx, sample_id: str, step: int) -> pd.DataFrame:
    """pos, token, layer, expert, weight: the top-1 expert of every stored token and layer."""
    return _sql(ctx, """SELECT pos, token, layer, expert, weight FROM token_routes
                        WHERE sample_id = ? AND step = ? AND rank = 0 ORDER BY pos, layer""", [sample_id, step])


@st.cache_data(show_spinner=False, max_entries=64)
def sample_routing(ctx: Ctx, sample_id: str, step: int) -> pd.DataFrame:
    """layer, expert, weight: the sample's token-averaged router distribution at a step."""
    return _sql(ctx, "SELECT layer, expert, weight FROM routing WHERE sample_id = ? AND step = ? ORDER BY layer, expert",
                [sample_id, step])


@st.cache_data(show_spinner=False, max_entries=64)
def sample_losses(ctx: Ctx, sample_id: str) -> pd.DataFrame:
    """step, loss of one sample."""
    return _sql(ctx, "SELECT step, loss FROM losses WHERE sample_id = ? ORDER BY step", [sample_id])


@st.cache_data(show_spinner=False, max_entries=16)
def pathways_at(ctx: Ctx, step: int) -> pd.DataFrame:
    """sample_id, group, pathway at a step: the analysis table, else computed here (tau = 0.7)."""
    stored = analysis(ctx, "pathways")
    if stored is not None and not stored.empty:
        return stored.loc[stored["step"] == step, ["sample_id", "group", "pathway"]].reset_index(drop=True)
    index, dist = _distributions(ctx, step)
    frame = pd.DataFrame({"sample_id": index.index, "pathway": pathway_metrics.pathway_strings(dist, tau=0.7)})
    return frame.merge(samples(ctx)[["sample_id", "group"]], on="sample_id", how="left")


@st.cache_data(show_spinner=False, max_entries=64)
def sample_pathways(ctx: Ctx, sample_id: str) -> pd.DataFrame:
    """step, pathway of one sample at every checkpoint (stored, else computed here with tau = 0.7)."""
    stored = analysis(ctx, "pathways")
    if stored is not None and not stored.empty:
        return stored.loc[stored["sample_id"] == sample_id, ["step", "pathway"]].sort_values("step", ignore_index=True)
    routing = _sql(ctx, "SELECT step, layer, expert, weight FROM routing WHERE sample_id = ? ORDER BY ALL", [sample_id])
    run_steps = sorted(routing["step"].unique())
    if not run_steps:
        return pd.DataFrame(columns=["step", "pathway"])
    dist = routing["weight"].to_numpy().reshape(len(run_steps), routing["layer"].max() + 1, -1)  # (T, L, E)
    return pd.DataFrame({"step": run_steps, "pathway": pathway_metrics.pathway_strings(dist, tau=0.7)})


@st.cache_data(show_spinner=False, max_entries=64)
def nearest(ctx: Ctx, sample_id: str, step: int, n: int = 10) -> pd.DataFrame:
    """The n samples whose pathway at `step` is closest (Levenshtein) to this sample's."""
    return derive.nearest_pathways(pathways_at(ctx, step), sample_id, n)


# --- the map ---------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def map_points(ctx: Ctx, color_by: str, eps: str | float = "auto", delta: float = 0.05) -> pd.DataFrame | None:
    """step, sample_id, x, y and the colour column for every checkpoint (None: no projection)."""
    points = analysis(ctx, "projection")
    if points is None or points.empty:
        return None
    points = points[["step", "sample_id", "x", "y"]]
    if color_by == "group":
        extra = samples(ctx)[["sample_id", "group"]]
    elif color_by == "t_star":
        stored = analysis(ctx, "memorization")
        extra = stored if stored is not None else memorisation(ctx, eps, delta)
    elif color_by == "loss":
        extra = losses(ctx)
    else:
        extra = analysis(ctx, "pathways")
        extra = extra if extra is not None else pd.DataFrame(columns=["step", "sample_id", "consistency"])
    return derive.color_points(points, color_by, extra)


def report_html(ctx: Ctx) -> str:
    """The standalone meeting report of the run (built on demand, when the button is clicked)."""
    run_steps, n_layers = steps(ctx), int(model(ctx).get("n_layers", 1))
    inputs: dict[str, Any] = {"losses": losses(ctx), "accuracy": accuracy(ctx), "steps": run_steps, "model": model(ctx)}
    stored = analysis(ctx, "memorization")
    if stored is not None or len(run_steps) > 1:  # the analysis' t*, else recomputed with auto eps
        inputs["memorisation"] = stored if stored is not None else memorisation(ctx, "auto", 0.05)
    if run_steps and n_layers > 1:
        inputs["links"] = sample_links(ctx, run_steps[-1], None, None, (0, n_layers - 1))
    for name in ("pairs", "group_metrics", "correlations", "saturation", "memorization"):
        inputs[name] = analysis(ctx, name)
    inputs["pair_series"] = [pair_series(ctx, label) for label in derive.pair_labels(inputs["pairs"])[:6]]
    return report.meeting_report(ctx.run, inputs)
