"""Run the analysis of one run: read the store, compute every table, publish them atomically.

Streams over checkpoints (one checkpoint's distributions in memory at a time). The result is
cached under a key hashing the settings and the input fingerprint: a second call with the
same settings and data does no work; new checkpoints, new accuracy or other settings make a
new key. Written into a `.partial` folder and renamed, so a killed analyze leaves nothing.
Each checkpoint's own part (pathways, group metrics, nulls, its map, and the distances of every
sampled pair) is kept in the step cache (grokviz/store/stepcache.py), so adding a checkpoint computes
that checkpoint's part, the pairs new to the groups whose members changed (sampled pairs follow the
members: grokviz/metrics/pair_sample.py), and the cross-checkpoint stages (t*, t#, pairs,
correlations, validity).
Wall time per stage (`grokviz.analysis.stages`) lands in `AnalyzeReport.stages`, and with the peak
memory so far in DEBUG lines of the `grokviz.analysis.stages` logger (benchmarks/bench_scale.py reads them).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from grokviz import names
from grokviz.analysis import (
    correlate,
    flows,
    groups,
    health_stats,
    nulls,
    pair_stage,
    pathway_stats,
    projection,
    validity,
    walk,
)
from grokviz.analysis.paircache import PairCache
from grokviz.analysis.stages import Stages
from grokviz.config import AnalyzeConfig, settings_hash, to_jsonable
from grokviz.config.analyze import ANALYSIS_VERSION
from grokviz.errors import StoreError
from grokviz.metrics.pair_sample import member_keys
from grokviz.store import analyses, queries, stepcache
from grokviz.store.layout import Store
from grokviz.store.tables import (
    Tables,
    read_route_ids,
    read_router_weights,
    read_samples_table,
    read_step,
    read_token_means,
)


@dataclasses.dataclass
class AnalyzeReport:
    key: str
    cached: bool
    seconds: float = 0.0
    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    stages: dict[str, float] = dataclasses.field(default_factory=dict)  # stage -> wall seconds
    counts: dict[str, int] = dataclasses.field(default_factory=dict)  # e.g. pair distances computed / reused


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
                         rows={name: len(frame) for name, frame in computed.items()}, stages=dict(stages),
                         counts=dict(stages.counts))


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
    walk = _walk_steps(config, store, steps, metric_groups, memorized, samples, routes, progress, stages)
    pathways = walk["pathways"].merge(samples[[names.SAMPLE_ID, names.GROUP]], on=names.SAMPLE_ID)
    pathways.insert(0, names.RUN, run)
    metrics = walk["metrics"]
    with stages.time("pairs"):
        if config.pairing and not generalized.empty:
            _announce(progress, "pairing training and test groups by text similarity (all-MiniLM-L6-v2)")
        pairs = pair_stage.pairs(config, store, pair_stage.texts(store, run, samples), memorized, generalized)
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
        "flows": walk["flows"].assign(run=run),
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
                memorized: pd.DataFrame, samples: pd.DataFrame, routes: pd.DataFrame, progress: bool,
                stages: Stages) -> dict:
    """One pass over checkpoints: pathways, group metrics, null baselines, entropy and maps, each
    checkpoint's part taken from the step cache when its files and the settings are unchanged."""
    run = config.run
    labels = layer_labels(store, run)
    ids = samples[names.SAMPLE_ID].astype(str).to_numpy()
    codes, keyed = pathway_stats.SampleCodes(ids), walk.MemberKeys()
    keys_of = member_keys(ids.tolist(), config.seed)  # by code: sampled pairs follow these
    domains = {g: ids for g, ids in metric_groups.items() if "/" not in g}
    pool = memorized.loc[memorized["memorized"], names.SAMPLE_ID].to_numpy(dtype=str)
    draws = (nulls.random_draws(domains, pool, seed=config.seed, keys=_keys_for(keys_of, codes, pool, config.seed))
             if config.nulls else {})
    route_ids = read_route_ids(store, run) if config.nulls else None
    by_step = dict(tuple(routes.groupby(names.STEP))) if config.consistency_weights == "token_topk" else {}
    project_steps = projection.pick(steps, config.projection_steps) if config.projection else []
    files = _step_files(store, run)
    group_of = samples.set_index(names.SAMPLE_ID)[names.GROUP].astype(str)
    group_of, grouping = group_of.astype(pd.CategoricalDtype(sorted(group_of.unique()))), flows.groups_key(samples)
    tables, rows, null_rows, health, maps, keep, flow_tables = [], [], [], [], [], set(), []
    chosen_ids, previous, previous_key = None, None, None
    for step in tqdm(steps, desc="analyze", unit="ckpt", disable=not progress):
        part_key = _key(config, "part", files[step], bool(step in by_step))
        with stages.time("pathways"):
            part, dist = _sample_part(config, store, step, part_key, by_step.get(step), group_of, stages)
        keep.add(stepcache.entry_path(store, run, "part", step, part_key))
        tables.append(part.table.drop(columns=[names.LOSS]))
        with stages.time("flows"):
            flow_key = _key(config, "flows", files[step], grouping)
            table, dist = _step_flows(config, store, step, flow_key, part, dist, group_of)
            flow_tables.append(table)
            keep.add(stepcache.entry_path(store, run, "flows", step, flow_key))
        with stages.time("distances"):
            group_rows, group_nulls = _step_groups(config, store, step, part, metric_groups, draws, route_ids,
                                                   labels, files[step], keep, keys_of, (codes, keyed), stages)
        rows += group_rows
        null_rows += group_nulls
        health += [{names.RUN: run, names.STEP: step, names.LAYER: label, "metric": "entropy", "value": float(v)}
                   for label, v in zip(labels, part.entropy)]
        if step in project_steps:
            with stages.time("projection"):
                chosen_ids = _projection_ids(part.table, memorized, config) if chosen_ids is None else chosen_ids
                map_key = _key(config, "map", files[step], previous_key, walk.members_key(chosen_ids))
                previous = _step_map(config, store, step, map_key, chosen_ids, part, dist, previous, progress)
                previous_key = map_key  # each map starts from the one before: its key chains theirs
                keep.add(stepcache.entry_path(store, run, "map", step, map_key))
                maps.append(projection.map_frame(step, chosen_ids, previous))
    stepcache.prune(store, run, keep)
    return {"pathways": pd.concat(tables, ignore_index=True), "metrics": pathway_stats.metric_frame(rows),
            "flows": pd.concat(flow_tables, ignore_index=True),
            "health": health, "nulls": pd.DataFrame(null_rows, columns=nulls.COLUMNS),
            "projection": (pd.concat(maps, ignore_index=True) if maps
                           else pd.DataFrame(columns=[names.STEP, names.SAMPLE_ID, "x", "y"]))}


def _step_groups(config: AnalyzeConfig, store: Store, step: int, part: walk.StepPart, metric_groups: dict,
                 draws: dict, route_ids: pd.Series | None, labels: list[int], files: list[str],
                 keep: set, keys_of: np.ndarray, memos: tuple[pathway_stats.SampleCodes, walk.MemberKeys],
                 stages: Stages) -> tuple[list[dict], list[dict]]:
    """Every group's metrics and nulls at one checkpoint; a group whose members and inputs did not
    change since the last analysis is taken from the step cache, and the distance of a sampled pair
    computed before from the checkpoint's pair caches."""
    run, seed, level = config.run, config.seed, config.distance
    key = _key(config, "groups", files)
    codes, keyed = memos  # per run, not per checkpoint: groups are converted and hashed once
    cache = walk.GroupCache(_cached_frame(store, run, "groups", step, key), keyed)
    pairs_key = _key(config, "pairs", files)
    pair_caches = {kind: PairCache(width, load=lambda k=kind: stepcache.read_cached(store, run, k, step, pairs_key))
                   for kind, width in (("pairs_path", 1), ("pairs_layers", len(labels)), ("pairs_token", 1))}
    row_ids = part.table[names.SAMPLE_ID].to_numpy()
    found = pathway_stats.StepKeys(part.table, _keys_for(keys_of, codes, row_ids, seed),
                                   pair_caches["pairs_path"], pair_caches["pairs_layers"], codes)
    rows, null_rows = [], []
    for name, ids in metric_groups.items():
        rows += cache.rows(name, ids, lambda n=name, i=ids: pathway_stats.group_metrics(
            step, part.table, part.n_layers, {n: i}, level, config.max_pairs, seed, config.layer_distance, labels,
            config.layer_max_pairs, found))
    domains = {g: ids for g, ids in metric_groups.items() if "/" not in g}
    for (a, ids_a), (b, ids_b) in itertools.combinations(sorted(domains.items()), 2):
        rows += cache.rows(f"{a} x {b}", (ids_a, ids_b),
                           lambda x={a: ids_a, b: ids_b}: pathway_stats.cross_group_metrics(
                               step, part.table, x, level, config.max_pairs, seed, found))
    for name, samples in draws.items():
        for draw, ids in enumerate(samples):
            null_rows += cache.rows(f"random {draw}: {name}", ids, lambda n=name, d=draw, i=ids:
                                    nulls.random_group_rows(step, part.table, n, d, i, level, seed, found))
    if route_ids is not None:
        inputs: list = []  # token means and router weights, read only when a group is not cached

        def token_rows(name: str, ids: np.ndarray) -> list[dict]:
            if not inputs:
                inputs.extend([read_token_means(store, run, step, len(labels)), read_router_weights(store, run, step)])
            means, router = inputs
            return [] if means is None else nulls.token_identity_rows(
                step, name, ids, route_ids, *means, router, config.tau, config.top_k, level, seed,
                _keys_for(keys_of, codes, ids, seed), pair_caches["pairs_token"])

        for name, ids in metric_groups.items():
            chosen = nulls.token_members(name, ids, route_ids, seed=seed, keys=_keys_for(keys_of, codes, ids, seed))
            null_rows += cache.rows(f"token: {name}", chosen, lambda n=name, i=chosen: token_rows(n, i))
    keep.add(stepcache.entry_path(store, run, "groups", step, key))
    if cache.computed:
        _write_cache(store, run, "groups", step, key, cache.frame(), keep)
    for kind, pairs in pair_caches.items():
        stages.count("pairs computed", pairs.computed)
        stages.count("pairs reused", pairs.found)
        keep.add(stepcache.entry_path(store, run, kind, step, pairs_key))
        if pairs.computed > REWRITE_SHARE * (pairs.computed + pairs.found):  # a few new pairs: computed again next time
            stepcache.write_cached(store, run, kind, step, pairs_key, pairs.to_arrow())
    return rows, null_rows


def _keys_for(keys_of: np.ndarray, codes: pathway_stats.SampleCodes, ids, seed: int) -> np.ndarray:
    """Member keys of `ids` (seeded hashes of the sample ids, `keys_of` by code; computed for an id
    the run lacks)."""
    found = codes.of(ids) if isinstance(ids, np.ndarray) else codes.index.get_indexer(ids)
    keys = keys_of[np.maximum(found, 0)] if len(keys_of) else np.zeros(len(found), dtype=np.uint64)
    if (found < 0).any():
        keys[found < 0] = member_keys([str(i) for i in np.asarray(ids)[found < 0]], seed)
    return keys


REWRITE_SHARE = 0.02  # a checkpoint's pair cache is rewritten when more of its pairs than this were new


STEP_SETTINGS = {  # what each cached part of a checkpoint depends on, besides its files
    "part": ("tau", "top_k", "consistency_weights", "consistency_cosine"),
    "groups": ("tau", "top_k", "consistency_weights", "consistency_cosine", "distance", "layer_distance",
               "max_pairs", "layer_max_pairs", "seed", "nulls"),
    "map": ("tau", "top_k", "seed", "projection_samples", "projection_steps"),
    "pairs": ("tau", "top_k", "distance", "layer_distance", "seed"),
    "flows": (),  # the page's two flows: the same whatever the analysis settings
}


def _key(config: AnalyzeConfig, kind: str, *inputs) -> str:
    """The step-cache key of one kind of part: its settings, its inputs, the analysis version."""
    settings = {name: to_jsonable(getattr(config, name)) for name in STEP_SETTINGS[kind]}
    return settings_hash({"kind": kind, "settings": settings, "inputs": to_jsonable(list(inputs)),
                          "version": ANALYSIS_VERSION})


def _step_files(store: Store, run: str) -> dict[int, list[str]]:
    """Per checkpoint, what its cached parts depend on: its complete shards and their part files."""
    files: dict[int, list[str]] = {}
    for step, shard in store.complete_shards(run):
        folder = store.shard_dir(run, step, shard, partial=False)
        files.setdefault(step, []).extend(f"{p.name}:{p.stat().st_size}" for p in sorted(folder.iterdir()))
    return {step: sorted(names_) for step, names_ in files.items()}


def _cached_frame(store: Store, run: str, kind: str, step: int, key: str) -> pd.DataFrame | None:
    table = stepcache.read_cached(store, run, kind, step, key)
    return table.to_pandas() if table is not None else None


def _write_cache(store: Store, run: str, kind: str, step: int, key: str, frame: pd.DataFrame, keep: set) -> None:
    keep.add(stepcache.entry_path(store, run, kind, step, key))
    if len(frame):
        stepcache.write_cached(store, run, kind, step, key, pa.Table.from_pandas(frame, preserve_index=False))


def _sample_part(config: AnalyzeConfig, store: Store, step: int, key: str, routes: pd.DataFrame | None,
                 group_of: pd.Series, stages: Stages) -> tuple[walk.StepPart, np.ndarray | None]:
    """A checkpoint's per-sample part (cached, else computed with its groups' flows and cached); its dist when read."""
    cached = stepcache.read_cached(store, config.run, "part", step, key)
    if cached is not None:
        return walk.StepPart.from_arrow(cached, step), None
    with stages.time("read"):
        frame, dist = read_step(store, config.run, step)
        router = read_router_weights(store, config.run, step)
    tokens = pathway_stats.step_tokens(routes, frame[names.SAMPLE_ID].to_numpy()) if routes is not None else None
    part = walk.sample_part(step, frame, dist, router, config.tau, config.top_k, config.consistency_weights,
                            config.consistency_cosine, tokens, group_of.reindex(frame[names.SAMPLE_ID]).to_numpy())
    stepcache.write_cached(store, config.run, "part", step, key, part.to_arrow())
    return part, dist


def _step_flows(config: AnalyzeConfig, store: Store, step: int, key: str, part: walk.StepPart,
                dist: np.ndarray | None, group_of: pd.Series) -> tuple[pd.DataFrame, np.ndarray | None]:
    """A checkpoint's per-sample flows per group (cached, else the part's, else computed, and cached);
    its distributions, read here if neither the part nor the flows were computed now."""
    categories = list(group_of.cat.categories)  # written and read as dictionaries: small in memory, fast to read
    cached = _cached_frame(store, config.run, "flows", step, key)
    if cached is not None:
        return flows.compact(cached, categories), dist
    table = part.flows
    if table is None:  # rows in file order, the part's order (its key is the same files)
        dist = read_step(store, config.run, step)[1] if dist is None else dist
        table = flows.step_flows(step, group_of.reindex(part.table[names.SAMPLE_ID]).to_numpy(), dist)
    table = flows.compact(table, categories)
    stepcache.write_cached(store, config.run, "flows", step, key, pa.Table.from_pandas(table, preserve_index=False))
    return table, dist


def _step_map(config: AnalyzeConfig, store: Store, step: int, key: str, ids: np.ndarray, part: walk.StepPart,
              dist: np.ndarray | None, previous: np.ndarray | None, progress: bool) -> np.ndarray:
    """One checkpoint's map (cached, else fitted from the previous map and cached)."""
    cached = stepcache.read_cached(store, config.run, "map", step, key)
    if cached is not None:
        return np.column_stack([cached.column("x").to_numpy(), cached.column("y").to_numpy()])
    order = part.table[names.SAMPLE_ID]
    if dist is None:  # the per-sample part came from the cache: read the distributions now
        frame, dist = read_step(store, config.run, step)
        order = frame[names.SAMPLE_ID]
    if previous is None:
        _announce(progress, f"pathway maps of {len(ids):,} samples (UMAP; the first checkpoint takes longest)")
    rows = pd.Index(order).get_indexer(ids)
    embedding = projection.step_map(projection.pathway_vectors(dist[rows], config.tau, config.top_k), config.seed,
                                    previous)
    stepcache.write_cached(store, config.run, "map", step, key, pa.table({"x": embedding[:, 0], "y": embedding[:, 1]}))
    return embedding


def layer_labels(store: Store, run: str) -> list[int]:
    """The decoder-layer index of each MoE layer, in depth order (METHOD vocabulary: `layer`)."""
    model = store.run_info(run)["model"]
    return [int(i) for i in model.get("decoder_layers") or range(int(model["n_layers"]))]


def _announce(progress: bool, what: str) -> None:
    """One line on stderr for a slow stage that has no progress bar (only with progress on)."""
    if progress:
        print(f"analyze: {what} ...", file=sys.stderr, flush=True)


def _projection_ids(frame: pd.DataFrame, memorized: pd.DataFrame, config: AnalyzeConfig) -> np.ndarray:
    """A seeded sample of the training samples present at the first projected checkpoint (sorted)."""
    ids = np.intersect1d(memorized[names.SAMPLE_ID].to_numpy(dtype=str), frame[names.SAMPLE_ID].to_numpy(dtype=str))
    if len(ids) > config.projection_samples:
        ids = np.sort(np.random.default_rng(config.seed).choice(ids, config.projection_samples, replace=False))
    return ids


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
