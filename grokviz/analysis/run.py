"""Run the analysis of one run: read the store, compute every table, publish them atomically.

Streams over checkpoints (one checkpoint's distributions in memory at a time). The result is
cached under a key hashing the settings and the input fingerprint: a second call with the
same settings and data does no work; new checkpoints, new accuracy or other settings make a
new key. Written into a `.partial` folder and renamed, so a killed analyze leaves nothing.
Wall time per stage lands in `AnalyzeReport.stages` and in DEBUG lines of the `grokviz.analysis.run`
logger (benchmarks/bench_scale.py reads them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from grokviz import names
from grokviz.analysis import correlate, groups, health_stats, nulls, pathway_stats, projection, validity
from grokviz.config import AnalyzeConfig
from grokviz.errors import StoreError
from grokviz.metrics.health import routing_entropy
from grokviz.metrics.pairing import pair_groups, similarity_matrix
from grokviz.store import analyses, appended, queries
from grokviz.store.layout import Store
from grokviz.store.tables import (
    Tables,
    read_route_ids,
    read_router_weights,
    read_samples_table,
    read_step,
    read_token_means,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class AnalyzeReport:
    key: str
    cached: bool
    seconds: float = 0.0
    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    stages: dict[str, float] = dataclasses.field(default_factory=dict)  # stage -> wall seconds


class Stages(dict):
    """Wall seconds per named stage, summed over repeats; each timed span is logged at DEBUG."""

    @contextlib.contextmanager
    def time(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self[name] = self.get(name, 0.0) + elapsed
            log.debug("analyze stage %s: %.3f s", name, elapsed)


def analyze(config: AnalyzeConfig, store: Store, *, progress: bool = True, force: bool = False) -> AnalyzeReport:
    """Compute (or reuse) every analysis table of `config.run`."""
    started = time.perf_counter()
    store.run_info(config.run)
    fingerprint = analyses.input_fingerprint(store, config.run)
    settings = config.to_dict()
    key = analyses.analysis_key(settings, fingerprint)
    if analyses.has_analysis(store, config.run, key) and not force:
        analyses.write_latest(store, config.run, key)
        return AnalyzeReport(key, cached=True, seconds=time.perf_counter() - started)
    stages = Stages()
    computed = compute(config, store, progress, stages)
    with stages.time("write"):
        analyses.write_analysis(store, config.run, key, settings, fingerprint, computed)
    return AnalyzeReport(key, cached=False, seconds=time.perf_counter() - started,
                         rows={name: len(frame) for name, frame in computed.items()}, stages=dict(stages))


def compute(config: AnalyzeConfig, store: Store, progress: bool,
            stages: Stages | None = None) -> dict[str, pd.DataFrame]:
    run, stages = config.run, Stages() if stages is None else stages
    with stages.time("query"), Tables(store, run) as tables:
        losses = queries.losses(tables)[[names.STEP, names.SAMPLE_ID, names.LOSS]]
        accuracy = queries.accuracy_rows(tables)
        routes = queries.token_routes(tables)
    steps = sorted(int(s) for s in losses[names.STEP].unique())
    if not steps:
        raise StoreError(f"run {run!r} has no complete checkpoint to analyze")
    with stages.time("groups"):
        accuracy = accuracy[~accuracy[names.ITEM_ID].isin(queries.dropped_items(store, run))]  # Min-K%++ filter
        samples = read_samples_table(store, run)
        memorized = groups.memorization(run, samples, losses, steps, config.eps, config.delta, config.include_last)
        generalized = groups.generalization(run, accuracy, steps, config.include_last)
        acc_series = groups.accuracy_series(run, accuracy, generalized)
    metric_groups = groups.metric_groups(memorized)
    walk = _walk_steps(config, store, steps, metric_groups, memorized, routes, progress, stages)
    pathways = walk["pathways"].merge(samples[[names.SAMPLE_ID, names.GROUP]], on=names.SAMPLE_ID)
    pathways.insert(0, names.RUN, run)
    metrics = walk["metrics"]
    with stages.time("pairs"):
        if config.pairing and not generalized.empty:
            _announce(progress, "pairing training and test groups by text similarity (all-MiniLM-L6-v2)")
        pairs = _pairs(config, _texts(store, run, samples), memorized, generalized)
    with stages.time("correlations"):
        correlations = correlate.domain_tables(run, metrics, acc_series, losses, samples, pairs, steps,
                                               config.window(), config.loss_baseline, config.loss_window,
                                               config.control)
        cross = correlate.cross_table(run, metrics, acc_series, steps, config.window(), pairs)
    with stages.time("validity"):
        targets = _targets(metrics, acc_series, pairs)
        validity_rows = validity.validity_table(run, metrics, acc_series, steps, targets, walk["nulls"],
                                                config.window(), config.control, config.bootstrap,
                                                config.permutations, config.seed)
        watched = {g: ids for g, ids in metric_groups.items() if g in targets or "/" not in g}  # with accuracy, or domains
        onsets = validity.onset_table(run, metrics, acc_series, steps, targets,
                                      groups.start_steps(memorized, losses, steps, watched),
                                      _drawn_metrics(store, run))
    out = {
        "pathways": pathways, "group_metrics": metrics.assign(run=run),
        "memorization": memorized, "generalization": generalized, "pairs": pairs,
        "accuracy_series": acc_series, "correlations": correlations, "cross_correlations": cross,
        "projection": walk["projection"].assign(run=run),
        "validity": validity_rows, "onsets": onsets, "null_metrics": walk["nulls"].assign(run=run),
    }
    with stages.time("health"):
        out |= _health(run, routes, walk["health"], store.run_info(run)["model"])
    return out


def _drawn_metrics(store: Store, run: str) -> tuple[str, ...]:
    """The pathway metrics worth an onset: consistency only with 3 or more MoE layers (with two, the
    paper's C is about 0 whatever the routing, METHOD 4)."""
    shown = ("distance", "mean_cosine", "consistency")
    return shown if int(store.run_info(run)["model"]["n_layers"]) >= 3 else shown[:2]


def _targets(metrics: pd.DataFrame, acc: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, str]:
    """Group -> the accuracy it is judged against: a domain its own held-out accuracy, a paired
    Pretrain@p its Test@q."""
    targets = {d: d for d in correlate._domains(metrics, acc)}
    return targets | dict(zip(pairs["train_group"], pairs["test_group"]))


def _walk_steps(config: AnalyzeConfig, store: Store, steps: list[int], metric_groups: dict,
                memorized: pd.DataFrame, routes: pd.DataFrame, progress: bool, stages: Stages) -> dict:
    """One pass over checkpoints: pathways, group metrics, null baselines, entropy, projection inputs."""
    domains = {g: ids for g, ids in metric_groups.items() if "/" not in g}
    labels = layer_labels(store, config.run)
    pool = memorized.loc[memorized["memorized"], names.SAMPLE_ID].to_numpy(dtype=str)
    draws = nulls.random_draws(domains, pool, seed=config.seed) if config.nulls else {}
    route_ids = read_route_ids(store, config.run) if config.nulls else None
    null_rows: list[dict] = []
    project_steps = set(projection.pick(steps, config.projection_steps)) if config.projection else set()
    by_step = dict(tuple(routes.groupby(names.STEP))) if config.consistency_weights == "token_topk" else {}
    tables, rows, health, vectors = [], [], [], {}
    chosen_ids = None
    for step in tqdm(steps, desc="analyze", unit="ckpt", disable=not progress):
        with stages.time("read"):
            frame, dist = read_step(store, config.run, step)
            router = read_router_weights(store, config.run, step)
        with stages.time("pathways"):
            tokens = pathway_stats.step_tokens(by_step[step], frame[names.SAMPLE_ID].to_numpy()) \
                if step in by_step else None
            table, layers = pathway_stats.step_pathways(step, frame, dist, router, config.tau, config.top_k,
                                                        config.consistency_weights, config.consistency_cosine, tokens)
        tables.append(table.drop(columns=[names.LOSS]))
        with stages.time("distances"):
            rows += pathway_stats.group_metrics(step, table, layers, metric_groups, config.distance,
                                                config.max_pairs, config.seed, config.layer_distance, labels)
            rows += pathway_stats.cross_group_metrics(step, table, domains, config.distance,
                                                      config.max_pairs, config.seed)
        with stages.time("nulls"):
            null_rows += nulls.random_group_rows(step, table, draws, config.distance, config.seed)
            means = read_token_means(store, config.run, step, len(labels)) if route_ids is not None else None
            if means is not None:
                null_rows += nulls.token_identity_rows(step, metric_groups, route_ids, *means, router, config.tau,
                                                       config.top_k, config.distance, config.seed)
        entropy = routing_entropy(dist).mean(axis=0)  # shape: (layers,)
        health += [{names.RUN: config.run, names.STEP: step, names.LAYER: label, "metric": "entropy",
                    "value": float(v)} for label, v in zip(labels, entropy)]
        if step in project_steps:
            chosen_ids = _projection_ids(frame, memorized, config) if chosen_ids is None else chosen_ids
            rows_of = pd.Index(frame[names.SAMPLE_ID]).get_indexer(chosen_ids)
            vectors[step] = projection.pathway_vectors(dist[rows_of], config.tau, config.top_k)
    with stages.time("projection"):
        if vectors:
            _announce(progress, f"pathway maps of {len(chosen_ids):,} samples at {len(vectors)} checkpoints "
                                "(AlignedUMAP; a minute or two)")
        projected = (projection.aligned_maps(vectors, chosen_ids, config.seed) if vectors
                     else pd.DataFrame(columns=[names.STEP, names.SAMPLE_ID, "x", "y"]))
    return {"pathways": pd.concat(tables, ignore_index=True), "metrics": pathway_stats.metric_frame(rows),
            "health": health, "projection": projected, "nulls": pd.DataFrame(null_rows, columns=nulls.COLUMNS)}


def layer_labels(store: Store, run: str) -> list[int]:
    """The decoder-layer index of each MoE layer, in depth order (METHOD vocabulary: `layer`)."""
    model = store.run_info(run)["model"]
    return [int(i) for i in model.get("decoder_layers") or range(int(model["n_layers"]))]


def _announce(progress: bool, what: str) -> None:
    """One line on stderr for a slow stage that has no progress bar (only with progress on)."""
    if progress:
        print(f"analyze: {what} ...", file=sys.stderr, flush=True)


def _projection_ids(frame: pd.DataFrame, memorized: pd.DataFrame, config: AnalyzeConfig) -> np.ndarray:
    """A seeded sample of the training samples present at the first projected checkpoint."""
    ids = np.intersect1d(memorized[names.SAMPLE_ID].to_numpy(dtype=str), frame[names.SAMPLE_ID].to_numpy(dtype=str))
    if len(ids) > config.projection_samples:
        ids = np.sort(np.random.default_rng(config.seed).choice(ids, config.projection_samples, replace=False))
    return ids


def _texts(store: Store, run: str, samples: pd.DataFrame) -> pd.Series:
    """Text by id: the run's samples and its evaluated test items (items win on a clash)."""
    items = appended.read_appended(store, run, "items")
    texts = samples.set_index(names.SAMPLE_ID)[names.TEXT]
    if not items.empty:
        texts = pd.concat([items.drop_duplicates(names.ITEM_ID).set_index(names.ITEM_ID)[names.TEXT],
                           texts[~texts.index.isin(items[names.ITEM_ID])]])
    return texts


def _pairs(config: AnalyzeConfig, text: pd.Series, memorized: pd.DataFrame,
           generalized: pd.DataFrame) -> pd.DataFrame:
    """Pretrain@p -> Test@q within each domain by mean embedding cosine (METHOD.md 7)."""
    columns = [names.RUN, "domain", "train_group", "test_group", "similarity", "delay"]
    if not config.pairing or generalized.empty:
        return pd.DataFrame(columns=columns)
    from grokviz.analysis.embed import embed_texts  # torch only when pairing is asked for

    done = memorized[memorized["memorized"]]
    sizes = done.groupby("pretrain_group")[names.SAMPLE_ID].transform("size")
    done = done[sizes >= config.min_group_size]  # groups too small to pair (METHOD 7; the Grokking page says so)
    solved = generalized[generalized["generalized"] & generalized[names.ITEM_ID].isin(text.index)]
    frames = []
    for domain in sorted(set(done[names.GROUP]) & set(solved[names.GROUP])):
        train = done[done[names.GROUP] == domain]
        test = solved[solved[names.GROUP] == domain]
        train_emb = {g: embed_texts(text[f[names.SAMPLE_ID]].tolist()) for g, f in train.groupby("pretrain_group")}
        test_emb = {g: embed_texts(text[f[names.ITEM_ID]].tolist()) for g, f in test.groupby("test_group")}
        paired = pair_groups(similarity_matrix(train_emb, test_emb),
                             train.groupby("pretrain_group")["t_star"].first().to_dict(),
                             test.groupby("test_group")["t_hash"].first().to_dict())
        frames.append(paired.assign(run=config.run, domain=domain))
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _health(run: str, routes: pd.DataFrame, health_rows: list[dict], model: dict) -> dict[str, pd.DataFrame]:
    """Saturation, co-activation, load and health tables (empty without per-token routes)."""
    if routes.empty:
        empty = pd.DataFrame(columns=list(names.EXPORT_COLUMNS["saturation"]))
        return {"saturation": empty, "health": pd.DataFrame(health_rows),
                "coactivation": pd.DataFrame(), "load": pd.DataFrame()}
    steps = sorted(int(s) for s in routes[names.STEP].unique())
    ids, weights = health_stats.topk_arrays(routes, steps)
    labels = sorted(int(layer) for layer in routes[names.LAYER].unique())
    co, load, extra = health_stats.load_tables(run, ids, weights, int(model["n_experts"]), labels)
    return {"saturation": health_stats.saturation_table(run, ids, int(model["top_k"]), labels),
            "health": pd.DataFrame(health_rows + extra), "coactivation": co, "load": load}
