"""Expert pathways of samples: which experts each layer keeps, as ids or as strings (METHOD 2).

Input is `dist`, the token-averaged router distribution g_l of every sample and layer,
shape (n_samples, n_layers, n_experts), computed over all E router logits (not the
renormalised top-k). Per layer, experts are ranked by weight (ties: lower expert id first)
and either the shortest prefix whose cumulative weight strictly exceeds `tau` is kept (the
crossing expert included) or a fixed `top_k`. Start at `pathway_strings`.

This module never computes distances (see `distance`) and never reads routing from a model.
Work is done in blocks of samples so 40,000 x 16 x 64 inputs stay fast and small in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

_BLOCK = 512  # samples per block; small blocks keep the sort in cache
_FLOAT32_SIGN = np.int64(0x7FFFFFFF)


def _check_dist(dist: np.ndarray) -> np.ndarray:
    """`dist` as a float array of shape (n_samples, n_layers, n_experts), validated."""
    dist = np.asarray(dist)
    if dist.ndim != 3:
        raise ValueError(f"dist must have shape (n_samples, n_layers, n_experts), got {dist.shape}")
    if dist.shape[1] == 0 or dist.shape[2] == 0:
        raise ValueError(f"dist needs at least one layer and one expert, got {dist.shape}")
    if not np.issubdtype(dist.dtype, np.floating):
        dist = dist.astype(np.float64)
    if not np.all(np.isfinite(dist)) or np.any(dist < 0):
        raise ValueError("dist must hold finite, non-negative router weights")
    return dist


def _check_rule(tau: float | None, top_k: int | None, n_experts: int) -> None:
    """Exactly one of `tau` (in [0, 1]) and `top_k` (in [1, n_experts]) is given."""
    if (tau is None) == (top_k is None):
        raise ValueError(f"give exactly one of tau and top_k, got tau={tau}, top_k={top_k}")
    if tau is not None and not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must lie in [0, 1], got {tau}")
    if top_k is not None and not 1 <= top_k <= n_experts:
        raise ValueError(f"top_k must lie in [1, {n_experts}], got {top_k}")


def _sort_descending(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expert ids by descending weight (ties: lower id first) and the sorted weights."""
    n_experts = block.shape[-1]
    if block.dtype.itemsize <= 4:
        # One int64 key per weight: non-negative float32 bits are monotone, so sorting
        # (sign - bits) * E + id ascending gives descending weight, then ascending id.
        w32 = np.add(block, np.float32(0), dtype=np.float32)  # also turns -0.0 into +0.0
        key = (_FLOAT32_SIGN - w32.view(np.uint32).astype(np.int64)) * n_experts
        key += np.arange(n_experts)
        key.sort(axis=-1)  # (b, n_layers, n_experts)
        order = key % n_experts
        weights = (_FLOAT32_SIGN - key // n_experts).astype(np.uint32).view(np.float32)
        return order, weights
    order = np.argsort(-block, axis=-1, kind="stable")  # (b, n_layers, n_experts)
    return order, np.take_along_axis(block, order, axis=-1)


def _ranked_blocks(
    dist: np.ndarray, tau: float | None, top_k: int | None, block: int = _BLOCK
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per block of samples: ranked expert ids (b, L, E), kept counts (b, L) and the weights in rank
    order (b, L, E), in the dtype they were ranked in. `dist` must already have passed `_check_dist`."""
    n_samples, n_layers, n_experts = dist.shape
    _check_rule(tau, top_k, n_experts)
    for start in range(0, n_samples, block):
        order, weights = _sort_descending(dist[start : start + block])
        if top_k is not None:
            counts = np.full(order.shape[:2], top_k, dtype=np.int64)
        else:
            cumulative = np.cumsum(weights, axis=-1, dtype=np.float64)  # (b, L, E)
            counts = np.minimum((cumulative <= tau).sum(axis=-1) + 1, n_experts)  # (b, L)
        yield order, counts, weights


def _rank_blocks(
    dist: np.ndarray, tau: float | None, top_k: int | None, block: int = _BLOCK
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per block of samples: ranked expert ids (b, L, E) and kept counts (b, L).

    `dist` must already have passed `_check_dist`.
    """
    for order, counts, _ in _ranked_blocks(dist, tau, top_k, block):
        yield order, counts


def kept_mask(dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None) -> np.ndarray:
    """Which experts each sample's layer keeps, in expert-id order: (n_samples, n_layers, n_experts) bool.

    The same rule as `ranked_experts` (rank below the kept count), without inverting the ranking:
    an expert is kept when it outranks the last kept one or is it, i.e. its weight is larger, or
    equal with an id no larger (ties go to the lower id).

    >>> kept_mask(np.array([[[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]])).tolist()
    [[[False, True, True], [True, True, False]]]
    """
    dist = _check_dist(dist)
    out = np.empty(dist.shape, dtype=bool)
    start = 0
    for order, counts, ranked in _ranked_blocks(dist, tau, top_k):
        b = len(order)
        out[start : start + b] = _kept_cut(dist[start : start + b], order, counts, ranked)
        start += b
    return out


def _kept_cut(block: np.ndarray, order: np.ndarray, counts: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """A block's kept experts in expert-id order, (b, L, E) bool, from its ranking (`_ranked_blocks`):
    larger than the last kept weight, or equal to it with an id no larger."""
    last = (counts - 1)[..., None]  # (b, L, 1)
    cut_weight, cut_id = np.take_along_axis(ranked, last, axis=-1), np.take_along_axis(order, last, axis=-1)
    ranked_as = np.add(block, np.float32(0), dtype=np.float32) if ranked.dtype != block.dtype else block
    return (ranked_as > cut_weight) | ((ranked_as == cut_weight) & (np.arange(order.shape[-1]) <= cut_id))


def ranked_experts(
    dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Experts of every layer ranked by weight, and how many of them each layer keeps.

    Returns `order` (n_samples, n_layers, n_experts), expert ids by descending weight with
    ties to the lower id, and `counts` (n_samples, n_layers): the kept experts of sample i
    and layer l are `order[i, l, :counts[i, l]]`. The cumulative weight is compared with
    `tau` in float64 on the given weights. If it never exceeds `tau`, all experts are kept.

    >>> dist = np.array([[[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]])
    >>> order, counts = ranked_experts(dist, tau=0.7)
    >>> order.tolist(), counts.tolist()
    ([[[1, 2, 0], [0, 1, 2]]], [[2, 2]])
    """
    dist = _check_dist(dist)
    parts = list(_rank_blocks(dist, tau, top_k))
    n_layers, n_experts = dist.shape[1:]
    if not parts:
        return np.zeros((0, n_layers, n_experts), np.int64), np.zeros((0, n_layers), np.int64)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def layer_experts(
    dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None
) -> list[list[tuple[int, ...]]]:
    """Kept expert ids per sample and layer, in rank order, as nested Python lists.

    Convenient for inspection; use `ranked_experts` for arrays.

    >>> layer_experts(np.array([[[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]]), tau=0.7)
    [[(1, 2), (0, 1)]]
    """
    order, counts = ranked_experts(dist, tau, top_k)
    return [
        [tuple(ids[:count].tolist()) for ids, count in zip(layers, layer_counts)]
        for layers, layer_counts in zip(order, counts)
    ]


def _digit_table(n_experts: int) -> np.ndarray:
    """(n_experts, width) uint8 ASCII digits of each expert id, right-padded with zeros."""
    width = len(str(max(n_experts - 1, 0)))
    table = np.zeros((n_experts, width), dtype=np.uint8)
    for expert in range(n_experts):
        digits = str(expert).encode("ascii")
        table[expert, : len(digits)] = np.frombuffer(digits, dtype=np.uint8)
    return table


def _render(order: np.ndarray, counts: np.ndarray, digits: np.ndarray) -> list[str]:
    """One string per row of `order` (m, L, E): kept ids joined by ",", layers by "-"."""
    n_rows, n_layers, n_experts = order.shape
    keep = np.arange(n_experts) < counts[..., None]  # (m, L, E)
    kept = order[keep]  # (K,) ids in (row, layer, rank) order
    last_in_layer = (np.arange(n_experts) == counts[..., None] - 1)[keep]  # (K,)
    layer = np.broadcast_to(np.arange(n_layers)[:, None], keep.shape)[keep]  # (K,)
    sep = np.where(last_in_layer, ord("-"), ord(",")).astype(np.uint8)
    sep[last_in_layer & (layer == n_layers - 1)] = 0  # nothing after the last id
    tokens = np.concatenate([digits[kept], sep[:, None]], axis=1)  # (K, width + 1)
    flat = tokens.ravel()
    text = flat[flat != 0].tobytes().decode("ascii")
    owner = np.repeat(np.arange(n_rows), counts.sum(axis=1))  # (K,)
    lengths = np.bincount(owner, weights=(tokens != 0).sum(axis=1), minlength=n_rows)
    ends = np.cumsum(lengths.astype(np.int64))
    starts = ends - lengths.astype(np.int64)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


def pathway_strings(
    dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None
) -> list[str]:
    """Pathway string of every sample: kept ids joined by ",", layers joined by "-".

    The hand-worked 3-layer example of METHOD 2 (tau = 0.7): layer 0 ranks 3 (0.55) then
    1 (0.30), crossing 0.7 at 0.85; layer 1 is a four-way tie, broken by lower id, crossing
    at 0.75; layer 2 crosses with expert 2 alone (0.9).

    >>> dist = np.array([[[0.05, 0.30, 0.10, 0.55],
    ...                   [0.25, 0.25, 0.25, 0.25],
    ...                   [0.00, 0.00, 0.90, 0.10]]])
    >>> pathway_strings(dist, tau=0.7)
    ['3,1-0,1,2-2']
    >>> pathway_strings(dist, tau=None, top_k=1)
    ['3-0-2']
    """
    dist = _check_dist(dist)
    digits = _digit_table(dist.shape[2])
    strings: list[str] = []
    for order, counts in _rank_blocks(dist, tau, top_k):
        strings.extend(_render(order, counts, digits))
    return strings


def _layer_blocks(dist: np.ndarray, tau: float | None, top_k: int | None,
                  visit: Callable[[int, np.ndarray], None] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per block of samples: its layer strings (b, n_layers) object array and kept counts (b, n_layers);
    `visit(start, weights)` (if given) sees the block's kept weights renormalised, (b, L, E) float32.
    `dist` must already have passed `_check_dist`."""
    n_layers, n_experts = dist.shape[1:]
    digits = _digit_table(n_experts)
    start = 0
    for order, counts, ranked in _ranked_blocks(dist, tau, top_k):
        b = order.shape[0]
        # each (sample, layer) rendered as a one-layer pathway
        rendered = _render(order.reshape(b * n_layers, 1, n_experts), counts.reshape(-1, 1), digits)
        if visit is not None:
            visit(start, _kept_weights(dist[start : start + b], order, counts, ranked))
        start += b
        yield np.array(rendered, dtype=object).reshape(b, n_layers), counts


def _kept_weights(block: np.ndarray, order: np.ndarray, counts: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """A block's kept weights renormalised to sum to one per layer, (b, L, E) float32, in expert-id
    order: the cut of `kept_mask` on the ranking at hand, summed in expert-id order (the same bits as
    renormalising `dist` where `kept_mask` holds)."""
    weights = np.where(_kept_cut(block, order, counts, ranked), block, 0).astype(np.float32, copy=False)
    weights /= weights.sum(axis=2, keepdims=True)
    return weights


def layer_strings(
    dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None
) -> np.ndarray:
    """Layer strings (kept ids joined by ",") of shape (n_samples, n_layers), dtype object.

    >>> layer_strings(np.array([[[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]]), tau=0.7).tolist()
    [['1,2', '0,1']]
    """
    dist = _check_dist(dist)
    blocks = [strings for strings, _ in _layer_blocks(dist, tau, top_k)]
    return np.concatenate(blocks) if blocks else np.empty((0, dist.shape[1]), dtype=object)


def n_kept(dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None) -> np.ndarray:
    """Total number of kept experts over all layers, per sample: shape (n_samples,).

    >>> n_kept(np.array([[[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]]), tau=0.7).tolist()
    [4]
    """
    parts = [counts.sum(axis=1) for _, counts in _rank_blocks(_check_dist(dist), tau, top_k)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def pathway_parts(
    dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None,
    visit: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """`pathway_strings`, `layer_strings` and `n_kept` in one pass: each block ranked once.
    `visit(start, weights)`, if given, is called for each block of samples (rows start, start + 1,
    ...) with their kept weights renormalised to sum to one per layer, (b, L, E) float32, from the
    same ranking: what a per-sample Sankey flow spreads, never held for all samples at once.

    >>> strings, layers, kept = pathway_parts(np.array([[[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]]))
    >>> strings, layers.tolist(), kept.tolist()
    (['1,2-0,1'], [['1,2', '0,1']], [4])
    >>> seen = []
    >>> _ = pathway_parts(np.array([[[0.1, 0.6, 0.3]]]), visit=lambda start, w: seen.append(w.astype(float)))
    >>> seen[0].round(3).tolist()
    [[[0.0, 0.667, 0.333]]]
    """
    dist = _check_dist(dist)
    blocks = list(_layer_blocks(dist, tau, top_k, visit))
    if not blocks:
        return [], np.empty((0, dist.shape[1]), dtype=object), np.zeros(0, dtype=np.int64)
    layers = np.concatenate([strings for strings, _ in blocks])
    kept = np.concatenate([counts.sum(axis=1) for _, counts in blocks])
    return ["-".join(parts) for parts in layers.tolist()], layers, kept


def topk_pathway_strings(expert_ids: np.ndarray) -> list[str]:
    """Pathway strings from given expert ids, kept in the given order (per-token view).

    `expert_ids` (n, n_layers, k) is typically the model's own top-k per token, rank 0
    first, for inspection and Sankeys; no weights and no `tau` are involved.

    >>> topk_pathway_strings(np.array([[[5, 2], [0, 7]], [[1, 3], [3, 1]]]))
    ['5,2-0,7', '1,3-3,1']
    """
    ids = np.asarray(expert_ids)
    if ids.ndim != 3 or not np.issubdtype(ids.dtype, np.integer) or np.any(ids < 0):
        raise ValueError(
            f"expert_ids must be non-negative integers of shape (n, n_layers, k), got {ids.shape}"
        )
    if ids.shape[1] == 0 or ids.shape[2] == 0:
        raise ValueError(f"expert_ids needs at least one layer and one expert per layer, got {ids.shape}")
    if ids.shape[0] == 0:
        return []
    counts = np.full(ids.shape[:2], ids.shape[2], dtype=np.int64)  # (n, n_layers)
    return _render(ids.astype(np.int64), counts, _digit_table(int(ids.max()) + 1))
