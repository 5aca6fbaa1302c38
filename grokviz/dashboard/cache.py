"""Everything the dashboard reads, cached: the only module with Streamlit cache decorators.

Each function is a thin cached wrapper over one method of `grokviz.api.Run` (which holds every
query and derivation, headless and testable without Streamlit); a comparison of runs takes a tuple
of `Ctx` and stacks the runs' tables with a `run` column. Every cached call takes a `Ctx`
(store root, run, and a fingerprint of the run's complete files): when `grokviz extract` or
`analyze` adds files, the fingerprint changes on the next rerun and the caches miss, so new
checkpoints appear on refresh while old entries age out. Reads never lock the store. It must never
import torch, transformers or umap, draw a widget or build a figure (`built_once` keeps a page's).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from grokviz import report
from grokviz.api import Run
from grokviz.dashboard import viewstate
from grokviz.errors import GrokvizError
from grokviz.figures import compare
from grokviz.store import analyses
from grokviz.store.layout import Store


class Ctx(NamedTuple):
    """Which run of which store, and a fingerprint of its files (part of every cache key)."""

    root: str
    run: str
    token: str


# --- opening the store -------------------------------------------------------------------
def open_store(root: str) -> tuple[Store | None, str | None]:
    """The store at `root`, or None and a message saying how to create one."""
    try:
        return Store(root, create=False), None
    except GrokvizError as err:
        return None, str(err)


def context(store: Store, run: str) -> Ctx:
    """The run's context; its token changes whenever a shard, accuracy part or analysis lands."""
    inputs = analyses.input_fingerprint(store, run)
    inputs["analysis"] = analyses.latest_key(store, run)
    token = hashlib.sha1(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return Ctx(str(store.root), run, token)


def analyze_command(ctx: Ctx) -> str:
    """The command that produces the analysis tables of this run."""
    return f"grokviz analyze --store {shlex.quote(ctx.root)} --run {shlex.quote(ctx.run)}"


@st.cache_resource(max_entries=4, show_spinner=False)
def _open(root: str, run: str, token: str) -> tuple[Run, threading.Lock]:
    return Run(Store(root, create=False), run), threading.Lock()


def _call(ctx: Ctx, method: str, *args: Any) -> Any:
    """`Run.method(*args)` on the run's snapshot, one call at a time per snapshot."""
    run, lock = _open(*ctx)
    with lock:
        return getattr(run, method)(*args)


# --- the run -------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def model(ctx: Ctx) -> dict[str, Any]:
    """The run's model shape: model_type, n_layers, n_experts, top_k, ..."""
    return _call(ctx, "model")


@st.cache_data(show_spinner=False, max_entries=16)
def layers(ctx: Ctx) -> list[int]:
    """The decoder-layer index of each MoE layer (labels L0, L2, ... when layer 1 is dense)."""
    return _call(ctx, "layers")


@st.cache_data(show_spinner=False, max_entries=16)
def settings(ctx: Ctx) -> dict[str, Any] | None:
    """The latest analysis' settings (AnalyzeConfig as a dict), or None."""
    config = _call(ctx, "settings")
    return None if config is None else config.to_dict()


@st.cache_data(show_spinner=False, max_entries=16)
def stamp(ctx: Ctx) -> str:
    """The settings line every figure of the run carries (preset, settings that differ, positions)."""
    return _call(ctx, "stamp")


@st.cache_data(show_spinner=False, max_entries=16)
def runs_table(root: str, runs: tuple[str, ...], tokens: tuple[str, ...]) -> pd.DataFrame:
    """One row per run of the store: model shape, checkpoints and sample count."""
    rows = []
    for run, token in zip(runs, tokens):
        ctx = Ctx(root, run, token)
        shape = model(ctx)
        rows.append({"run": run, "model_type": shape.get("model_type"), "layers": shape.get("n_layers"),
                     "experts": shape.get("n_experts"), "top_k": shape.get("top_k"),
                     "checkpoints": len(steps(ctx)), "samples": int(groups(ctx)["n"].sum())})
    return pd.DataFrame(rows)


@st.cache_data(show_spinner=False, max_entries=16)
def checkpoints(ctx: Ctx) -> pd.DataFrame:
    """step, tokens, revision, shards complete / expected, complete."""
    return _call(ctx, "checkpoints")


@st.cache_data(show_spinner=False, max_entries=16)
def steps(ctx: Ctx) -> list[int]:
    """Checkpoint steps with per-sample results, ascending."""
    return _call(ctx, "steps")


@st.cache_data(show_spinner=False, max_entries=16)
def groups(ctx: Ctx) -> pd.DataFrame:
    """group, split, n (samples)."""
    return _call(ctx, "groups")


@st.cache_data(show_spinner=False, max_entries=16)
def samples(ctx: Ctx) -> pd.DataFrame:
    """sample_id, group, split, n_tokens, has_tokens (per-token routing stored), sorted by id."""
    return _call(ctx, "samples")


@st.cache_data(show_spinner=False, max_entries=16)
def known(ctx: Ctx, runs: tuple[str, ...]) -> viewstate.Known:
    """The values URL parameters may take for this run."""
    shape, table = model(ctx), samples(ctx)
    return viewstate.Known(
        runs=runs, steps=tuple(steps(ctx)), groups=tuple(sorted(table["group"].astype(str).unique())),
        samples=frozenset(table["sample_id"]), n_layers=int(shape.get("n_layers", 0)), layers=tuple(layers(ctx)),
        n_experts=int(shape.get("n_experts", 0)), pairs=tuple(targets(ctx)["label"]),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def has_analysis(ctx: Ctx, name: str) -> bool:
    """Whether the latest analysis has this table (a file check: the table is not read)."""
    return _call(ctx, "has_analysis", name)


@st.cache_data(show_spinner=False, max_entries=64)
def analysis(ctx: Ctx, name: str) -> pd.DataFrame | None:
    """One analysis table of the latest analysis, or None when there is none."""
    return _call(ctx, "analysis", name)


# --- losses, accuracy, memorisation ------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def losses(ctx: Ctx) -> pd.DataFrame:
    """step, sample_id, group, split, loss of every sample at every checkpoint."""
    return _call(ctx, "losses")


@st.cache_data(show_spinner=False, max_entries=16)
def accuracy(ctx: Ctx, split: str = "test") -> pd.DataFrame:
    """step, group, accuracy of one split."""
    return _call(ctx, "accuracy", split)


@st.cache_data(show_spinner=False, max_entries=32)
def memorization(ctx: Ctx, eps: str | float, delta: float) -> pd.DataFrame:
    """sample_id, group, t_star, eps recomputed for training samples with these settings."""
    return _call(ctx, "memorization", eps, delta)


@st.cache_data(show_spinner=False, max_entries=32)
def pair_series(ctx: Ctx, label: str) -> dict[str, Any] | None:
    """Loss, accuracy, steps and metrics of one Pretrain@p -> Test@q pair (None if unknown)."""
    return _call(ctx, "pair_series", label)


# --- is the signal real? ------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=16)
def targets(ctx: Ctx) -> pd.DataFrame:
    """label, group, target, kind, n of everything the validity checks judge, largest first."""
    return _call(ctx, "targets")


@st.cache_data(show_spinner=False, max_entries=64)
def validity(ctx: Ctx, group: str) -> pd.DataFrame:
    """The validity rows of one group."""
    return _call(ctx, "validity", group)


@st.cache_data(show_spinner=False, max_entries=64)
def verdicts(ctx: Ctx, group: str) -> dict[str, str]:
    """metric -> verdict line of one group."""
    return _call(ctx, "verdicts", group)


@st.cache_data(show_spinner=False, max_entries=64)
def metric_series(ctx: Ctx, group: str, metric: str) -> pd.DataFrame:
    """step, value, low, high of one group's metric."""
    return _call(ctx, "metric_series", group, metric)


@st.cache_data(show_spinner=False, max_entries=64)
def null_series(ctx: Ctx, group: str, metric: str) -> pd.DataFrame:
    """The null baselines of one group's metric."""
    return _call(ctx, "null_series", group, metric)


@st.cache_data(show_spinner=False, max_entries=16)
def onsets(ctx: Ctx) -> pd.DataFrame:
    """Routing-only and accuracy onsets of every group (-1: none)."""
    return _call(ctx, "onsets")


@st.cache_data(show_spinner=False, max_entries=64)
def accuracy_of(ctx: Ctx, group: str, split: str = "test") -> pd.DataFrame:
    """step, accuracy of one group."""
    return _call(ctx, "accuracy_of", group, split)


@st.cache_data(show_spinner=False, max_entries=16)
def story(ctx: Ctx, metric: str = "distance") -> dict[str, Any]:
    """The Overview's story frames: curves, marks, verdicts, findings rows, pair spans."""
    return _call(ctx, "story", metric)


@st.cache_data(show_spinner=False, max_entries=16)
def checkpoint_problems(ctx: Ctx) -> list[str]:
    """Steps with identical weights or router jumps (the checkpoint integrity rule)."""
    return _call(ctx, "checkpoint_problems")


@st.cache_data(show_spinner=False, max_entries=16)
def monitor(ctx: Ctx) -> pd.DataFrame:
    """The live monitor's rows (step, group, metric, value)."""
    return _call(ctx, "monitor")


# --- pathways and flows --------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64)
def token_links(ctx: Ctx, step: int, ids: tuple[str, ...] | None, all_ranks: bool,
                layers: tuple[int, int]) -> pd.DataFrame:
    """Link table of per-token flows (top-1, or all top-k weighted), aggregated in DuckDB."""
    return _call(ctx, "token_links", step, ids, all_ranks, layers)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_links(ctx: Ctx, step: int, ids: tuple[str, ...] | None, tau: float | None,
                 layers: tuple[int, int]) -> pd.DataFrame:
    """Link table of per-sample flows: argmax expert (tau None) or tau-kept experts, weighted."""
    return _call(ctx, "sample_links", step, ids, tau, layers)


@st.cache_data(show_spinner=False, max_entries=64)
def group_links(ctx: Ctx, step: int, group: str | None, tau: float | None, layers: tuple[int, int]) -> pd.DataFrame:
    """`sample_links` of one group (None: all samples), from the analysis' stored flows when it has them."""
    return _call(ctx, "group_links", step, group, tau, layers)


@st.cache_resource(show_spinner=False, max_entries=32)
def built_once(key: tuple, _build: Callable[[], Any]) -> Any:
    """The figure `_build()` makes, once per `key` (all it depends on), shared by later reruns, not copied:
    plotly validates each of a big Sankey's ~6,000 link colours whenever one is built (0.2 s).
    `widgets.show` only reads a figure already stamped with the same text."""
    return _build()


# --- one sample ------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64)
def search_samples(ctx: Ctx, text: str, limit: int = 200) -> pd.DataFrame:
    """sample_id, group, text of samples whose id or text contains `text` (case-insensitive)."""
    return _call(ctx, "search_samples", text, limit)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_record(ctx: Ctx, sample_id: str) -> dict[str, Any]:
    """The sample's row of `samples` as a dict (empty when unknown)."""
    return _call(ctx, "sample_record", sample_id)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_tokens(ctx: Ctx, sample_id: str, step: int) -> pd.DataFrame:
    """pos, token, layer, expert, weight: the top-1 expert of every stored token and layer."""
    return _call(ctx, "sample_tokens", sample_id, step)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_routing(ctx: Ctx, sample_id: str, step: int) -> pd.DataFrame:
    """layer, expert, weight: the sample's token-averaged router distribution at a step."""
    return _call(ctx, "sample_routing", sample_id, step)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_losses(ctx: Ctx, sample_id: str) -> pd.DataFrame:
    """step, loss of one sample."""
    return _call(ctx, "sample_losses", sample_id)


@st.cache_data(show_spinner=False, max_entries=64)
def sample_pathways(ctx: Ctx, sample_id: str) -> pd.DataFrame:
    """step, pathway of one sample at every checkpoint."""
    return _call(ctx, "sample_pathways", sample_id)


@st.cache_data(show_spinner=False, max_entries=64)
def nearest(ctx: Ctx, sample_id: str, step: int, n: int = 10) -> pd.DataFrame:
    """The n samples whose pathway at `step` is closest (Levenshtein) to this sample's."""
    return _call(ctx, "nearest", sample_id, step, n)


# --- the map ----------------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=32)
def map_points(ctx: Ctx, color_by: str, eps: str | float = "auto", delta: float = 0.05) -> pd.DataFrame | None:
    """step, sample_id, x, y and the colour column for every checkpoint (None: no projection)."""
    return _call(ctx, "map_points", color_by, eps, delta)


def report_html(ctx: Ctx) -> str:
    """The standalone meeting report of the run: the same function as `grokviz report`."""
    run, lock = _open(*ctx)
    with lock:
        return report.build_report(run)


def compare_report_html(ctxs: tuple[Ctx, ...]) -> str:
    """The meeting report of the first run with the others compared: the same as `grokviz report --compare`."""
    opened = [_open(*ctx) for ctx in ctxs]
    with contextlib.ExitStack() as held:
        for _, lock in sorted(opened, key=lambda pair: id(pair[1])):  # one order everywhere: no deadlock
            held.enter_context(lock)
        return report.build_report(opened[0][0], [run for run, _ in opened[1:]])


# --- several runs ---------------------------------------------------------------------------------
def store_runs(root: str) -> list[str]:
    """The runs of the store at `root`, sorted (a directory listing: not cached, so new runs appear)."""
    store, _ = open_store(root)
    return store.runs() if store is not None else []


def contexts(root: str, runs: tuple[str, ...]) -> tuple[Ctx, ...]:
    """The context of each run (the cache key of a comparison: one fingerprint per run)."""
    store = Store(root, create=False)
    return tuple(context(store, run) for run in runs)


def _tagged(ctxs: tuple[Ctx, ...], frame_of) -> pd.DataFrame:
    """frame_of(ctx) of every run, concatenated with a `run` column first (runs without one skipped)."""
    return compare.tagged({ctx.run: frame_of(ctx) for ctx in ctxs})


@st.cache_data(show_spinner=False, max_entries=16)
def last_steps(ctxs: tuple[Ctx, ...]) -> dict[str, int]:
    """Each run's last checkpoint step (what `by fraction of training` divides by)."""
    return {ctx.run: (steps(ctx) or [0])[-1] for ctx in ctxs}


def _data_groups(ctx: Ctx, frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of the run's own data groups (tasks, domains)."""
    return compare.data_groups(frame, groups(ctx)["group"])


@st.cache_data(show_spinner=False, max_entries=16)
def compare_accuracy(ctxs: tuple[Ctx, ...], split: str = "test") -> pd.DataFrame:
    """run, step, group, accuracy of one split in every run, per data group."""
    return _tagged(ctxs, lambda ctx: _data_groups(ctx, accuracy(ctx, split)))


@st.cache_data(show_spinner=False, max_entries=32)
def compare_metric(ctxs: tuple[Ctx, ...], metric: str) -> pd.DataFrame:
    """run, step, group, value of one `group_metrics` metric in every run, per data group."""
    return _tagged(ctxs, lambda ctx: compare.metric_rows(analysis(ctx, "group_metrics"), metric, groups(ctx)["group"]))


@st.cache_data(show_spinner=False, max_entries=16)
def compare_verdicts(ctxs: tuple[Ctx, ...]) -> pd.DataFrame:
    """run, group, metric, tracks, verdict, routing_onset, accuracy_onset of every run with a
    validity table, per data group."""
    return _tagged(ctxs, lambda ctx: _data_groups(ctx, _call(ctx, "verdict_table")))


@st.cache_data(show_spinner=False, max_entries=16)
def settings_records(ctxs: tuple[Ctx, ...]) -> dict[str, dict[str, str]]:
    """run -> its settings record (`Run.settings_record`: model shape, demo config, data, analysis)."""
    return {ctx.run: _call(ctx, "settings_record") for ctx in ctxs}


@st.cache_data(show_spinner=False, max_entries=32)
def highways(ctx: Ctx, left: int, right: int, ids: tuple[str, ...] | None, n: int = 10) -> pd.DataFrame:
    """The most common pathways at either checkpoint with their shares and share over time."""
    return _call(ctx, "highways", left, right, ids, n)
