"""Pathway distance: unnormalised Levenshtein distance between pathway strings (METHOD 3).

Owns the two levels of comparison (`Level.CHAR` on the literal string, as the paper does;
`Level.EXPERT`, one symbol per expert id with layer boundaries kept, spelt by `spelling`), the full distance
matrix, and group means over all unordered pairs i<j: exact and streamed in tiles
(memory O(block^2), never n^2), or estimated from uniformly sampled pairs with a standard
error above a pair budget. Sampled pairs come from `pair_sample` (uniform, and stable when
members change: members are known by seeded keys of their ids); a `known` pair cache
(`grokviz.analysis.paircache`) hands back distances computed before and computes only the rest.
All distances come from rapidfuzz's compiled, multi-threaded `process.cdist` / `process.cpdist`;
identical pathways are compared once and weighted by their multiplicity. Start at
`mean_pairwise_distance`.

This module never builds pathways (see `pathways`) and never selects memorised samples.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from grokviz.metrics import pair_sample
from grokviz.metrics.spelling import encode_expert_level

KNOWN_EXACT = 20_000  # an exact mean of at most this many pairs goes through a pair cache when given


class Known(Protocol):
    """Distances of pairs computed before, by the keys of the pair's two members (a pair cache)."""

    def get(self, keys_a: np.ndarray, keys_b: np.ndarray,
            compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """(m, width) distances of the pairs (keys_a[k], keys_b[k]); `compute(missing)` gets a boolean
        mask of the pairs it does not hold and returns their (n_missing, width) distances."""


class Level(str, enum.Enum):
    """What one edit operation acts on."""

    CHAR = "char"  # a character of the literal pathway string (paper)
    EXPERT = "expert"  # one expert id; layer boundaries "-" are kept as symbols


@dataclass(frozen=True)
class DistanceEstimate:
    """A mean distance over pairs: `value`, its `stderr` (0 when exact), pairs used."""

    value: float
    stderr: float
    n_pairs: int
    exact: bool


def _prepare(pathways: Sequence[str], level: Level | str) -> list[str]:
    """The strings whose character-level distance is the distance at `level`."""
    strings = [str(p) for p in pathways]
    return encode_expert_level(strings) if Level(level) is Level.EXPERT else strings


def _take(strings: Sequence[str], level: Level | str, positions: np.ndarray) -> list[str]:
    """strings[p] for p in `positions`, spelt for `level` (only those are re-spelt)."""
    picked = [str(strings[k]) for k in positions.tolist()]
    return encode_expert_level(picked) if Level(level) is Level.EXPERT else picked


def pairwise_distances(
    pathways: Sequence[str], level: Level | str = Level.CHAR, workers: int = -1
) -> np.ndarray:
    """Full (n, n) int32 matrix of Levenshtein distances; fine for small n only.

    >>> pairwise_distances(["1,2-3", "1,2-4", "10,2-3"]).tolist()
    [[0, 1, 1], [1, 0, 2], [1, 2, 0]]
    >>> pairwise_distances(["1,2-3", "10,2-3"], level="expert").tolist()
    [[0, 1], [1, 0]]
    """
    strings = _prepare(pathways, level)
    return process.cdist(strings, strings, scorer=Levenshtein.distance, dtype=np.int32, workers=workers)


def _unique(strings: list[str]) -> tuple[list[str], np.ndarray]:
    """Distinct strings and their multiplicities (identical pathways are common)."""
    counts = Counter(strings)
    return list(counts), np.fromiter(counts.values(), dtype=np.int64, count=len(counts))


def _tile(rows: list[str], cols: list[str], workers: int) -> np.ndarray:
    """(len(rows), len(cols)) int64 distances; one triangle only when `cols is rows`."""
    return process.cdist(rows, cols, scorer=Levenshtein.distance, dtype=np.int64, workers=workers)


def _exact_within(strings: list[str], block: int, workers: int) -> DistanceEstimate:
    """Mean over all i<j, from distinct strings weighted by multiplicity.

    Distinct strings are cut into blocks; a block is compared with itself (rapidfuzz
    computes one triangle when queries and choices are the same list) and with every
    later block, tile by tile: n^2/2 distances, memory O(block^2).
    """
    unique, counts = _unique(strings)
    blocks = [(unique[s : s + block], counts[s : s + block]) for s in range(0, len(unique), block)]
    total = 0
    for r, (rows, row_counts) in enumerate(blocks):
        total += int(row_counts @ np.triu(_tile(rows, rows, workers), k=1) @ row_counts)
        for cols, col_counts in blocks[r + 1 :]:
            total += int(row_counts @ _tile(rows, cols, workers) @ col_counts)
    n = len(strings)
    n_pairs = n * (n - 1) // 2
    return DistanceEstimate(total / n_pairs, 0.0, n_pairs, True)


def _exact_cross(a: list[str], b: list[str], block: int, workers: int) -> DistanceEstimate:
    """Mean over all pairs of a x b, from distinct strings, tile by tile."""
    (ua, ca), (ub, cb) = _unique(a), _unique(b)
    total = 0
    for r in range(0, len(ua), block):
        for c in range(0, len(ub), block):
            tile = _tile(ua[r : r + block], ub[c : c + block], workers)  # (block, block)
            total += int(ca[r : r + block] @ tile @ cb[c : c + block])
    n_pairs = len(a) * len(b)
    return DistanceEstimate(total / n_pairs, 0.0, n_pairs, True)


def _estimate(dist: np.ndarray, n_pairs: int) -> DistanceEstimate:
    """Mean and standard error of distances of m pairs drawn without replacement from n_pairs."""
    m = len(dist)
    if m < 2:
        return DistanceEstimate(float(np.mean(dist)) if m else float("nan"), float("nan"), m, False)
    correction = max(0.0, 1.0 - m / n_pairs) if n_pairs else 0.0  # finite population
    stderr = float(np.std(dist, ddof=1) / np.sqrt(m) * np.sqrt(correction))
    return DistanceEstimate(float(np.mean(dist)), stderr, m, False)


def _keys(keys: np.ndarray | None, n: int, seed: int) -> np.ndarray:
    """The members' keys: given (seeded hashes of sample ids), else seeded keys of their positions."""
    if keys is None:
        return pair_sample.position_keys(n, seed)
    keys = np.asarray(keys, dtype=np.uint64)
    if len(keys) != n:
        raise ValueError(f"keys must give one key per pathway ({n}), got {len(keys)}")
    return keys


def pair_distances(a: Sequence[str], b: Sequence[str], i: np.ndarray, j: np.ndarray, level: Level | str,
                   keys_a: np.ndarray, keys_b: np.ndarray, known: Known | None = None,
                   workers: int = -1) -> np.ndarray:
    """(m,) distances of the pairs (a[i], b[j]) at `level`; through `known` when given.

    >>> keys = np.array([1, 2], dtype=np.uint64)
    >>> pair_distances(["1,2-3", "10,2-3"], ["1,2-3", "10,2-3"], np.array([0]), np.array([1]), "expert", keys, keys).tolist()
    [1]
    """

    def compute(missing: np.ndarray) -> np.ndarray:
        return process.cpdist(_take(a, level, i[missing]), _take(b, level, j[missing]),
                              scorer=Levenshtein.distance, dtype=np.int64, workers=workers)[:, None]

    if known is None:
        return compute(np.ones(len(i), dtype=bool))[:, 0]
    return known.get(keys_a[i], keys_b[j], compute)[:, 0]


def _check_budget(max_pairs: int | None, block: int) -> None:
    """`max_pairs` is None or positive; `block` is positive."""
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be None or at least 1, got {max_pairs}")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")


def mean_pairwise_distance(
    pathways: Sequence[str],
    level: Level | str = Level.CHAR,
    max_pairs: int | None = None,
    seed: int = 0,
    block: int = 2048,
    workers: int = -1,
    keys: np.ndarray | None = None,
    known: Known | None = None,
) -> DistanceEstimate:
    """Mean distance over all unordered pairs i<j of `pathways` (a group value).

    Exact when n(n-1)/2 <= `max_pairs` (or `max_pairs` is None): streamed over tiles of
    `block` x `block` distinct pathways, stderr 0. Otherwise `max_pairs` distinct pairs are drawn
    uniformly from the unordered pairs i<j by `pair_sample.within_pairs` on the members' `keys`
    (default: keys of their positions, seeded by `seed`); value is their mean distance and stderr
    their standard deviation / sqrt(max_pairs), with the finite-population correction. `known`
    supplies distances of pairs computed before. Fewer than two pathways give value nan and n_pairs 0.

    >>> mean_pairwise_distance(["1,2-3", "1,2-4", "10,2-3"])
    DistanceEstimate(value=1.3333333333333333, stderr=0.0, n_pairs=3, exact=True)
    >>> mean_pairwise_distance(["1,2-3", "1,2-4", "10,2-3"], max_pairs=2).exact
    False
    """
    _check_budget(max_pairs, block)
    n = len(pathways)
    if n < 2:
        return DistanceEstimate(float("nan"), float("nan"), 0, True)
    n_pairs = n * (n - 1) // 2
    if max_pairs is None or n_pairs <= max_pairs:
        if known is None or n_pairs > KNOWN_EXACT:
            return _exact_within(_prepare(pathways, level), block, workers)
        keys = _keys(keys, n, seed)  # every pair, through the cache (the same mean: exact integers)
        i, j = pair_sample.within_pairs(keys, n_pairs)
        total = int(pair_distances(pathways, pathways, i, j, level, keys, keys, known, workers).sum())
        return DistanceEstimate(total / n_pairs, 0.0, n_pairs, True)
    keys = _keys(keys, n, seed)
    i, j = pair_sample.within_pairs(keys, max_pairs)
    return _estimate(pair_distances(pathways, pathways, i, j, level, keys, keys, known, workers), n_pairs)


def cross_mean_distance(
    a: Sequence[str],
    b: Sequence[str],
    level: Level | str = Level.CHAR,
    max_pairs: int | None = None,
    seed: int = 0,
    block: int = 2048,
    workers: int = -1,
    keys_a: np.ndarray | None = None,
    keys_b: np.ndarray | None = None,
    known: Known | None = None,
) -> DistanceEstimate:
    """Mean distance over all pairs of `a` x `b` (the cross-group control of METHOD 3).

    Same budget rule as `mean_pairwise_distance`, with pairs drawn uniformly from a x b
    (`pair_sample.cross_pairs`; default keys: positions, seeded by `seed` and `seed + 1`).

    >>> cross_mean_distance(["1,2-3"], ["1,2-4", "10,2-3"])
    DistanceEstimate(value=1.0, stderr=0.0, n_pairs=2, exact=True)
    """
    _check_budget(max_pairs, block)
    if not len(a) or not len(b):
        return DistanceEstimate(float("nan"), float("nan"), 0, True)
    if max_pairs is None or len(a) * len(b) <= max_pairs:
        return _exact_cross(_prepare(a, level), _prepare(b, level), block, workers)
    keys_a, keys_b = _keys(keys_a, len(a), seed), _keys(keys_b, len(b), seed + 1)
    i, j = pair_sample.cross_pairs(keys_a, keys_b, max_pairs)
    return _estimate(pair_distances(a, b, i, j, level, keys_a, keys_b, known, workers), len(a) * len(b))


def per_layer_mean_distance(
    layer_strings: np.ndarray,
    level: Level | str = Level.CHAR,
    max_pairs: int | None = None,
    seed: int = 0,
    block: int = 2048,
    workers: int = -1,
    keys: np.ndarray | None = None,
    known: Known | None = None,
    n_layers: int | None = None,
) -> list[DistanceEstimate]:
    """`mean_pairwise_distance` on each layer's strings alone: one estimate per layer.

    `layer_strings` has shape (n_samples, n_layers), as `pathways.layer_strings` returns, or is the
    samples' whole pathways, shape (n_samples,), split on "-" only for the rows whose distances are
    computed (what the cached analysis passes: most pairs come from `known`); their number of
    layers is `n_layers` (default: the first pathway's).
    Every layer reads the same sampled pairs; `known` (if given) holds rows of n_layers distances.

    >>> strings = np.array([["1,2", "3"], ["1,2", "4"], ["10,2", "3"]], dtype=object)
    >>> [e.value for e in per_layer_mean_distance(strings)]
    [0.6666666666666666, 0.6666666666666666]
    >>> [e.value for e in per_layer_mean_distance(np.array(["1,2-3", "1,2-4", "10,2-3"], dtype=object))]
    [0.6666666666666666, 0.6666666666666666]
    """
    table = np.asarray(layer_strings, dtype=object)
    if table.ndim not in (1, 2) or (table.ndim == 1 and not len(table) and n_layers is None):
        raise ValueError(f"layer_strings must have shape (n_samples, n_layers) or hold whole pathways (n_samples,), "
                         f"got {table.shape}")
    _check_budget(max_pairs, block)
    if table.ndim == 2:
        n_layers = table.shape[1]
    elif n_layers is None:
        n_layers = str(table[0]).count("-") + 1
    n = len(table)
    rows_of = (lambda rows: table[rows]) if table.ndim == 2 else (lambda rows: _split(table[rows], n_layers))
    n_pairs = n * (n - 1) // 2
    exact = max_pairs is None or n_pairs <= max_pairs
    if n < 2 or (exact and (known is None or n_pairs > KNOWN_EXACT)):
        table = rows_of(np.arange(n))
        return [mean_pairwise_distance(list(table[:, layer]), level, max_pairs, seed, block, workers)
                for layer in range(n_layers)]
    keys = _keys(keys, n, seed)
    i, j = pair_sample.within_pairs(keys, n_pairs if exact else max_pairs)

    def compute(missing: np.ndarray) -> np.ndarray:
        rows, inverse = np.unique(np.concatenate([i[missing], j[missing]]), return_inverse=True)
        spelt = np.array(_prepare(rows_of(rows).ravel(), level),
                         dtype=object).reshape(len(rows), n_layers)  # every needed string spelt at once
        left, right = np.split(inverse, 2)
        out = np.empty((len(left), n_layers), dtype=np.int64)
        for layer in range(n_layers):
            out[:, layer] = process.cpdist(spelt[left, layer].tolist(), spelt[right, layer].tolist(),
                                           scorer=Levenshtein.distance, dtype=np.int64, workers=workers)
        return out

    values = compute(np.ones(len(i), dtype=bool)) if known is None else known.get(keys[i], keys[j], compute)
    if exact:
        return [DistanceEstimate(int(values[:, layer].sum()) / n_pairs, 0.0, n_pairs, True) for layer in range(n_layers)]
    return [_estimate(values[:, layer], n_pairs) for layer in range(n_layers)]


def _split(pathways: np.ndarray, n_layers: int) -> np.ndarray:
    """Whole pathways split into their layers' strings, (n, n_layers) object; a pathway with
    another number of layers is a ValueError naming it."""
    parts = [str(p).split("-") for p in pathways]
    wrong = next((p for p, split in zip(pathways, parts) if len(split) != n_layers), None)
    if wrong is not None:
        raise ValueError(f"pathway {wrong!r} does not have {n_layers} layers like the first one")
    return np.array(parts, dtype=object).reshape(len(parts), n_layers)


def sample_interval(pathways: Sequence[str], level: Level | str = Level.CHAR, cap: int = 100, seed: int = 0,
                    z: float = 1.96, keys: np.ndarray | None = None,
                    known: Known | None = None) -> tuple[float, float]:
    """A 95% interval of the group's mean pairwise distance over its *samples* (a metric curve's
    band, METHOD 11.2). The mean distance is a U-statistic whose variance is about 4 var(d_i) / n,
    d_i being sample i's mean distance to the others (Hoeffding); var(d_i) is estimated on at most
    `cap` members (`pair_sample.bottom` of their `keys`, default keys of positions seeded by `seed`;
    slightly wide: each d_i is itself a mean of cap - 1 distances) and n is the whole group's size.
    Centred on the subsample's mean; (nan, nan) with fewer than 3. `known` as for
    `mean_pairwise_distance` (the same pairs of the same strings).

    >>> low, high = sample_interval(["1-2", "1-3", "4-2", "1-2", "5-5"])
    >>> bool(low < mean_pairwise_distance(["1-2", "1-3", "4-2", "1-2", "5-5"]).value < high)
    True
    """
    n = len(pathways)
    if n < 3:
        return float("nan"), float("nan")
    keys = _keys(keys, n, seed)
    chosen = pair_sample.bottom(keys, cap) if n > cap else np.arange(n)
    k = len(chosen)
    first, second = np.triu_indices(k, k=1)
    i, j = chosen[first], chosen[second]
    dist = pair_distances(pathways, pathways, i, j, level, keys, keys, known).astype(np.float64)
    totals = np.bincount(first, weights=dist, minlength=k) + np.bincount(second, weights=dist, minlength=k)
    per_sample = totals / (k - 1)  # (k,) mean distance of each member to the others
    centre = float(per_sample.mean())
    half = z * 2.0 * float(per_sample.std(ddof=1)) / np.sqrt(n)
    return centre - half, centre + half
