"""Per checkpoint: every sample's pathway and consistency, and each group's pathway metrics.

METHOD.md 2-4 applied to one checkpoint's stored distributions. Group metrics are long-form
rows (step, group, metric, value, stderr, n_samples, n_pairs) with metrics `distance`,
`distance_layer_<l>`, `consistency`, `mean_cosine`, `loss`, `distinct_pathways`, and the
cross-domain control `cross_distance` (group "A x B"). Pure NumPy/pandas via grokviz.metrics.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.consistency import (
    consistency,
    layer_cosines,
    per_token_cosines,
    score,
    selected_weights,
    topk_distribution,
)
from grokviz.metrics.distance import (
    DistanceEstimate,
    Known,
    cross_mean_distance,
    mean_pairwise_distance,
    per_layer_mean_distance,
    sample_interval,
)
from grokviz.metrics.pathways import pathway_parts


class ByIdentity:
    """`compute(members)` once per member array: the same arrays come back at every checkpoint of an
    analysis, so what is derived from a group's members (codes, a hash) is derived once. Each array
    is held, so its id cannot be reused by another."""

    def __init__(self, compute: Callable[[Any], Any]) -> None:
        self.compute = compute
        self._memo: dict[int, tuple[object, Any]] = {}

    def __call__(self, members) -> Any:
        held = self._memo.get(id(members))
        if held is None or held[0] is not members:
            held = (members, self.compute(members))
            self._memo[id(members)] = held
        return held[1]


class SampleCodes:
    """A run's sample ids as integer codes (`of(members)`, converted once per member array); unknown
    ids get code -1."""

    def __init__(self, ids) -> None:
        self.index = pd.Index(ids)
        self.of = ByIdentity(self.index.get_indexer)


@dataclasses.dataclass
class StepKeys:
    """One checkpoint's pathway table as the group metrics read it: rows found by sample id, each
    row's member key (seeded hash of the sample id: sampled pairs follow the members,
    `grokviz.metrics.pair_sample`), the pair caches distances are read through (whole pathways, per
    layer), and each column converted to NumPy once (not once per group)."""

    table: pd.DataFrame
    keys: np.ndarray | None = None  # shape: (n_rows,) uint64; None: keys of positions
    path: Known | None = None
    layers: Known | None = None
    codes: SampleCodes | None = None  # the run's sample ids as codes (None: looked up by id)

    def __post_init__(self) -> None:
        self._columns: dict[str, np.ndarray] = {}
        ids = self.table[names.SAMPLE_ID]
        if self.codes is None:
            self.codes = SampleCodes(ids.to_numpy())
        found = self.codes.index.get_indexer(ids)
        self._row_of = np.full(len(self.codes.index) + 1, -1)  # code -> row here; the last slot: unknown ids
        self._row_of[found[found >= 0]] = np.flatnonzero(found >= 0)

    def rows(self, members) -> np.ndarray:
        """Rows of the members present at this checkpoint, in the members' order."""
        rows = self._row_of[self.codes.of(members)]
        return rows[rows >= 0]

    def take(self, rows: np.ndarray) -> np.ndarray | None:
        return None if self.keys is None else self.keys[rows]

    def column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            self._columns[name] = self.table[name].to_numpy(dtype=object if name == "pathway" else float)
        return self._columns[name]


METRIC_COLUMNS = [names.STEP, names.GROUP, "metric", "value", "stderr", "n_samples", "n_pairs", "low", "high"]


@dataclasses.dataclass(frozen=True)
class StepTokens:
    """The model's own per-token top-k of one checkpoint, aligned with its samples' rows."""

    rows: np.ndarray  # shape: (n_tokens,)  row of the token's sample in the checkpoint's frame
    experts: np.ndarray  # shape: (n_tokens, n_layers, top_k)
    weights: np.ndarray  # shape: (n_tokens, n_layers, top_k)  router probabilities


def step_tokens(routes: pd.DataFrame, sample_ids: np.ndarray) -> StepTokens | None:
    """Per-token routes of one checkpoint (long rows sample_id, pos, layer, rank, expert, weight) as
    arrays aligned with `sample_ids`; positions outside the route span (`routed` False) left out."""
    if routes.empty:
        return None
    if "routed" in routes and routes["routed"].notna().any():
        routes = routes[routes["routed"].fillna(True).astype(bool)]
    layers, top_k = routes[names.LAYER].nunique(), routes[names.RANK].nunique()
    ordered = routes.sort_values([names.SAMPLE_ID, names.POS, names.LAYER, names.RANK])
    tokens = ordered.drop_duplicates([names.SAMPLE_ID, names.POS])[names.SAMPLE_ID].to_numpy()
    rows = pd.Index(sample_ids).get_indexer(tokens)
    shape = (-1, layers, top_k)
    experts = ordered[names.EXPERT].to_numpy().reshape(shape)[rows >= 0]
    weights = ordered[names.WEIGHT].to_numpy().reshape(shape)[rows >= 0]
    return StepTokens(rows[rows >= 0], experts, weights)


def consistency_values(dist: np.ndarray, router: list[np.ndarray], weights: str, cosine: str,
                       tau: float | None, top_k: int | None, tokens: StepTokens | None) -> tuple[np.ndarray, np.ndarray]:
    """C and mean cosine per sample with the chosen weights (full, selected, token_topk) and cosine
    (averaged, per_token); token-based values are NaN for samples without per-token routes."""
    if weights == "full":
        return consistency(dist, router)
    if weights == "selected":
        return consistency(selected_weights(dist, tau, top_k), router)
    n, _, n_experts = dist.shape
    if tokens is None:
        return np.full(n, np.nan), np.full(n, np.nan)
    if cosine == "per_token":
        return score(per_token_cosines(tokens.rows, tokens.experts, tokens.weights, n, router, n_experts))
    g = topk_distribution(tokens.rows, tokens.experts, tokens.weights, n, n_experts)  # (n, L, E), NaN rows
    return score(layer_cosines(np.nan_to_num(g), router)) if len(g) else (np.zeros(0), np.zeros(0))


def step_pathways(step: int, frame: pd.DataFrame, dist: np.ndarray, router: list[np.ndarray],
                  tau: float | None, top_k: int | None, consistency_weights: str = "full",
                  consistency_cosine: str = "averaged",
                  tokens: StepTokens | None = None, visit=None) -> pd.DataFrame:
    """Pathway table rows of one checkpoint; `visit` sees each block's kept weights (`pathway_parts`)."""
    strings, _, kept = pathway_parts(dist, tau=tau, top_k=top_k, visit=visit)
    c_value, mean_cos = consistency_values(dist, router, consistency_weights, consistency_cosine, tau, top_k, tokens)
    if consistency_weights == "token_topk" and tokens is not None:  # no tokens: no value, not a zero embedding
        has = np.bincount(tokens.rows, minlength=len(dist)) > 0
        c_value, mean_cos = np.where(has, c_value, np.nan), np.where(has, mean_cos, np.nan)
    table = pd.DataFrame({
        names.STEP: step, names.SAMPLE_ID: frame[names.SAMPLE_ID].to_numpy(),
        "pathway": strings, "n_kept": kept,
        "consistency": c_value, "mean_cosine": mean_cos, names.LOSS: frame[names.LOSS].to_numpy(),
    })
    return table


def _row(step: int, group: str, metric: str, estimate: DistanceEstimate | float, n_samples: int,
         band: tuple[float, float] = (np.nan, np.nan)) -> dict:
    """One long row; `band` is the 95% interval over the group's samples (low, high)."""
    if isinstance(estimate, DistanceEstimate):
        return {names.STEP: step, names.GROUP: group, "metric": metric, "value": estimate.value,
                "stderr": estimate.stderr, "n_samples": n_samples, "n_pairs": estimate.n_pairs,
                "low": band[0], "high": band[1]}
    return {names.STEP: step, names.GROUP: group, "metric": metric, "value": float(estimate),
            "stderr": np.nan, "n_samples": n_samples, "n_pairs": 0, "low": band[0], "high": band[1]}


def _mean_band(values: np.ndarray) -> tuple[float, float]:
    """95% interval of a mean over samples (normal approximation); nan with fewer than 3 values."""
    values = values[np.isfinite(values)]
    if len(values) < 3:
        return np.nan, np.nan
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def group_metrics(step: int, pathways: pd.DataFrame, n_layers: int, groups: dict[str, np.ndarray],
                  level: str, max_pairs: int | None, seed: int, layer_level: str = "expert",
                  layer_labels: list[int] | None = None, layer_max_pairs: int | None = None,
                  found: StepKeys | None = None) -> list[dict]:
    """Every metric of every group at one checkpoint (groups map names to sample ids), with the
    per-layer distances (paper Fig. 5) at their own level, named by decoder-layer index
    (`distance_layer_<l>`, `layer_labels` l of each MoE layer; default 0..L-1). `found` gives the
    rows' member keys and pair caches (default: keys of positions, no cache)."""
    labels = layer_labels if layer_labels is not None else list(range(n_layers))
    found = found if found is not None else StepKeys(pathways)
    rows = []
    for group, members in groups.items():
        rows_of = found.rows(members)
        keys = found.take(rows_of)
        strings = found.column("pathway")[rows_of]
        n = len(strings)
        rows.append(_row(step, group, "distance",
                         mean_pairwise_distance(strings, level, max_pairs, seed, keys=keys, known=found.path), n,
                         sample_interval(strings, level, seed=seed, keys=keys, known=found.path)))
        layer_estimates = per_layer_mean_distance(strings, layer_level, layer_max_pairs, seed, keys=keys,
                                                  known=found.layers, n_layers=n_layers)  # split where computed
        for label, estimate in zip(labels, layer_estimates):
            rows.append(_row(step, group, f"distance_layer_{label}", estimate, n))
        for metric in ("consistency", "mean_cosine", names.LOSS):
            values = found.column(metric)[rows_of]
            rows.append(_row(step, group, metric, np.nanmean(values) if np.isfinite(values).any() else np.nan, n,
                             _mean_band(values)))
        rows.append(_row(step, group, "distinct_pathways", len(set(strings.tolist())), n))
    return rows


def cross_group_metrics(step: int, pathways: pd.DataFrame, domains: dict[str, np.ndarray], level: str,
                        max_pairs: int | None, seed: int, found: StepKeys | None = None) -> list[dict]:
    """Control: mean distance between memorised samples of two different domains."""
    found = found if found is not None else StepKeys(pathways)
    strings_all = found.column("pathway")
    rows = []
    for (a, ids_a), (b, ids_b) in itertools.combinations(sorted(domains.items()), 2):
        rows_a, rows_b = found.rows(ids_a), found.rows(ids_b)
        estimate = cross_mean_distance(strings_all[rows_a], strings_all[rows_b], level, max_pairs, seed,
                                       keys_a=found.take(rows_a), keys_b=found.take(rows_b), known=found.path)
        rows.append(_row(step, f"{a} x {b}", "cross_distance", estimate, len(ids_a) + len(ids_b)))
    return rows


def metric_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
