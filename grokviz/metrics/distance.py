"""Pathway distance: unnormalised Levenshtein distance between pathway strings (METHOD 3).

Owns the two levels of comparison (`Level.CHAR` on the literal string, as the paper does;
`Level.EXPERT`, one symbol per expert id with layer boundaries kept), the full distance
matrix, and group means over all unordered pairs i<j: exact and streamed in tiles
(memory O(block^2), never n^2), or estimated from uniformly sampled pairs with a standard
error above a pair budget. All distances come from rapidfuzz's compiled, multi-threaded
`process.cdist` / `process.cpdist`; identical pathways are compared once and weighted by
their multiplicity. Start at `mean_pairwise_distance`.

This module never builds pathways (see `pathways`) and never selects memorised samples.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

_SYMBOL_BASE = 0x100  # expert id e -> chr(0x100 + e): clear of ASCII "-", ",", digits
_MAX_EXPERT_ID = 0xD800 - _SYMBOL_BASE - 1  # stay below the surrogate code points


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


def _encode_layer(layer: str) -> str:
    """One layer string "3,12" as one symbol per expert id."""
    if not layer:
        return ""
    ids = [int(part) for part in layer.split(",")]
    if min(ids) < 0 or max(ids) > _MAX_EXPERT_ID:
        raise ValueError(f"expert ids must lie in [0, {_MAX_EXPERT_ID}], got layer {layer!r}")
    return "".join(chr(_SYMBOL_BASE + i) for i in ids)


def encode_expert_level(pathways: Sequence[str]) -> list[str]:
    """Pathways re-spelt with one symbol per expert id (chr(0x100 + id)), "-" kept.

    Character-level Levenshtein on the result is the expert-level distance.

    >>> encode_expert_level(["3,12-0"]) == [chr(0x103) + chr(0x10C) + "-" + chr(0x100)]
    True
    """
    cache: dict[str, str] = {}
    encoded = []
    for pathway in pathways:
        layers = []
        for layer in pathway.split("-"):
            if layer not in cache:
                try:
                    cache[layer] = _encode_layer(layer)
                except ValueError as err:
                    raise ValueError(f"not a pathway string: {pathway!r} ({err})") from None
            layers.append(cache[layer])
        encoded.append("-".join(layers))
    return encoded


def _prepare(pathways: Sequence[str], level: Level | str, only: np.ndarray | None = None) -> list[str]:
    """The strings whose character-level distance is the distance at `level`. With `only` (indices),
    only those are re-spelt (a sampled estimate reads no others; the rest stay as given)."""
    level = Level(level)
    strings = [str(p) for p in pathways]
    if level is not Level.EXPERT:
        return strings
    if only is None:
        return encode_expert_level(strings)
    needed = np.unique(only).tolist()
    for k, encoded in zip(needed, encode_expert_level([strings[k] for k in needed])):
        strings[k] = encoded
    return strings


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


def _sampled(a: list[str], b: list[str], i: np.ndarray, j: np.ndarray, workers: int) -> DistanceEstimate:
    """Mean and standard error of the distances of the sampled pairs (a[i], b[j])."""
    dist = process.cpdist(
        [a[k] for k in i.tolist()], [b[k] for k in j.tolist()],
        scorer=Levenshtein.distance, dtype=np.int64, workers=workers,
    )  # (m,)
    m = len(dist)
    stderr = float(np.std(dist, ddof=1) / np.sqrt(m)) if m > 1 else float("nan")
    return DistanceEstimate(float(np.mean(dist)), stderr, m, False)


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
) -> DistanceEstimate:
    """Mean distance over all unordered pairs i<j of `pathways` (a group value).

    Exact when n(n-1)/2 <= `max_pairs` (or `max_pairs` is None): streamed over tiles of
    `block` x `block` distinct pathways, stderr 0. Otherwise `max_pairs` pairs are drawn uniformly, with
    replacement, from the unordered pairs i<j (seeded by `seed`); value is their mean
    distance and stderr their standard deviation / sqrt(max_pairs). Fewer than two
    pathways give value nan and n_pairs 0.

    >>> mean_pairwise_distance(["1,2-3", "1,2-4", "10,2-3"])
    DistanceEstimate(value=1.3333333333333333, stderr=0.0, n_pairs=3, exact=True)
    >>> mean_pairwise_distance(["1,2-3", "1,2-4", "10,2-3"], max_pairs=2).exact
    False
    """
    _check_budget(max_pairs, block)
    n = len(pathways)
    if n < 2:
        return DistanceEstimate(float("nan"), float("nan"), 0, True)
    if max_pairs is None or n * (n - 1) // 2 <= max_pairs:
        return _exact_within(_prepare(pathways, level), block, workers)
    rng = np.random.default_rng(seed)
    # An ordered pair (i, j != i) drawn uniformly is an unordered pair drawn uniformly.
    i = rng.integers(0, n, size=max_pairs)  # (m,)
    j = rng.integers(0, n - 1, size=max_pairs)  # (m,)
    j = j + (j >= i)
    strings = _prepare(pathways, level, only=np.concatenate([i, j]))
    return _sampled(strings, strings, i, j, workers)


def cross_mean_distance(
    a: Sequence[str],
    b: Sequence[str],
    level: Level | str = Level.CHAR,
    max_pairs: int | None = None,
    seed: int = 0,
    block: int = 2048,
    workers: int = -1,
) -> DistanceEstimate:
    """Mean distance over all pairs of `a` x `b` (the cross-group control of METHOD 3).

    Same budget rule as `mean_pairwise_distance`, with pairs drawn uniformly from a x b.

    >>> cross_mean_distance(["1,2-3"], ["1,2-4", "10,2-3"])
    DistanceEstimate(value=1.0, stderr=0.0, n_pairs=2, exact=True)
    """
    _check_budget(max_pairs, block)
    if not len(a) or not len(b):
        return DistanceEstimate(float("nan"), float("nan"), 0, True)
    if max_pairs is None or len(a) * len(b) <= max_pairs:
        return _exact_cross(_prepare(a, level), _prepare(b, level), block, workers)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(a), size=max_pairs)  # (m,)
    j = rng.integers(0, len(b), size=max_pairs)  # (m,)
    return _sampled(_prepare(a, level, only=i), _prepare(b, level, only=j), i, j, workers)


def per_layer_mean_distance(
    layer_strings: np.ndarray,
    level: Level | str = Level.CHAR,
    max_pairs: int | None = None,
    seed: int = 0,
    block: int = 2048,
    workers: int = -1,
) -> list[DistanceEstimate]:
    """`mean_pairwise_distance` on each layer's strings alone: one estimate per layer.

    `layer_strings` has shape (n_samples, n_layers), as `pathways.layer_strings` returns.
    Every layer uses the same `seed`, hence the same sampled pairs.

    >>> strings = np.array([["1,2", "3"], ["1,2", "4"], ["10,2", "3"]], dtype=object)
    >>> [e.value for e in per_layer_mean_distance(strings)]
    [0.6666666666666666, 0.6666666666666666]
    """
    table = np.asarray(layer_strings, dtype=object)
    if table.ndim != 2:
        raise ValueError(f"layer_strings must have shape (n_samples, n_layers), got {table.shape}")
    return [
        mean_pairwise_distance(list(table[:, layer]), level, max_pairs, seed, block, workers)
        for layer in range(table.shape[1])
    ]


def sample_interval(pathways: Sequence[str], level: Level | str = Level.CHAR, cap: int = 100, seed: int = 0,
                    z: float = 1.96) -> tuple[float, float]:
    """A 95% interval of the group's mean pairwise distance over its *samples* (a metric curve's
    band, METHOD 11.2). The mean distance is a U-statistic whose variance is about 4 var(d_i) / n,
    d_i being sample i's mean distance to the others (Hoeffding); var(d_i) is estimated on at most
    `cap` members drawn with `seed` (slightly wide: each d_i is itself a mean of cap - 1 distances)
    and n is the whole group's size. Centred on the subsample's mean; (nan, nan) with fewer than 3.

    >>> low, high = sample_interval(["1-2", "1-3", "4-2", "1-2", "5-5"])
    >>> bool(low < mean_pairwise_distance(["1-2", "1-3", "4-2", "1-2", "5-5"]).value < high)
    True
    """
    n = len(pathways)
    if n < 3:
        return float("nan"), float("nan")
    strings = list(pathways)
    if n > cap:
        chosen = np.random.default_rng(seed).choice(n, cap, replace=False)
        strings = [strings[i] for i in chosen]
    strings = _prepare(strings, level)
    k = len(strings)
    matrix = process.cdist(strings, strings, scorer=Levenshtein.distance, dtype=np.int32, workers=-1)
    per_sample = matrix.sum(axis=1) / (k - 1)  # (k,) mean distance of each member to the others
    centre = float(per_sample.mean())
    half = z * 2.0 * float(per_sample.std(ddof=1)) / np.sqrt(n)
    return centre - half, centre + half
