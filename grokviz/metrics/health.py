"""Routing health beyond the paper: saturation, co-activation, entropy, load, specialisation.

From the OLMoE paper's own routing analysis (METHOD 10). Inputs are per-token routings:
`topk` (n_tokens, n_layers, k) expert ids with rank 0 first and distinct ids per token, the
same tokens in the same order at every checkpoint compared; and, for entropy and top-k mass,
full router distributions `probs` (n_tokens, n_layers, n_experts). Co-activation counts all
pairs in a token's top-k (the OLMoE script counts only rank-adjacent pairs).

This module never runs a model and never chooses which checkpoint is the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import entr

from grokviz import names

LABEL = "label"
SHARE = "share"
UNIFORM_SHARE = "uniform_share"
RATIO = "ratio"
_BLOCK = 4096  # tokens per block when counting


def _check_topk(topk: np.ndarray, n_experts: int | None = None) -> np.ndarray:
    """`topk` as int64 (n_tokens, n_layers, k) with distinct ids in [0, n_experts)."""
    ids = np.asarray(topk)
    if ids.ndim != 3 or ids.shape[2] == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"topk must be integer expert ids of shape (n_tokens, n_layers, k), got {ids.shape}")
    ids = ids.astype(np.int64)
    if np.any(ids < 0) or (n_experts is not None and np.any(ids >= n_experts)):
        raise ValueError(f"topk expert ids must lie in [0, {n_experts}), got {ids.min()}..{ids.max()}")
    if np.any(np.diff(np.sort(ids, axis=-1), axis=-1) == 0):
        raise ValueError("topk must hold distinct expert ids per token and layer")
    return ids


def _check_probs(probs: np.ndarray) -> np.ndarray:
    """`probs` as float64 (n_tokens, n_layers, n_experts)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3:
        raise ValueError(f"probs must have shape (n_tokens, n_layers, n_experts), got {probs.shape}")
    return probs


def saturation(topk_t: np.ndarray, topk_ref: np.ndarray, top_k: int = 1) -> np.ndarray:
    """Per layer, how far routing at checkpoint t already matches a reference checkpoint.

    Mean over tokens of |top-k set at t & top-k set at ref| / top_k; with top_k = 1 this
    is the share of tokens whose top-1 expert is the same. Shape (n_layers,).

    >>> t = np.array([[[0, 1], [2, 3]], [[1, 0], [2, 0]]])    # 2 tokens, 2 layers, top-2
    >>> ref = np.array([[[0, 2], [2, 3]], [[0, 1], [3, 1]]])
    >>> saturation(t, ref, top_k=1).tolist(), saturation(t, ref, top_k=2).tolist()
    ([0.5, 0.5], [0.75, 0.5])
    """
    now, ref = _check_topk(topk_t), _check_topk(topk_ref)
    if now.shape[:2] != ref.shape[:2]:
        raise ValueError(
            f"topk_t and topk_ref must cover the same tokens and layers, got {now.shape} and {ref.shape}"
        )
    if not 1 <= top_k <= min(now.shape[2], ref.shape[2]):
        raise ValueError(f"top_k must lie in [1, {min(now.shape[2], ref.shape[2])}], got {top_k}")
    match = now[:, :, :top_k, None] == ref[:, :, None, :top_k]  # (n, L, top_k, top_k)
    overlap = match.any(axis=-1).sum(axis=-1)  # (n, L)
    return overlap.mean(axis=0) / top_k


def _one_hot(ids: np.ndarray, n_experts: int) -> np.ndarray:
    """(n, L, k) ids -> (n, L, n_experts) float64 indicator of the chosen experts."""
    hot = np.zeros((*ids.shape[:2], n_experts))
    np.put_along_axis(hot, ids, 1.0, axis=-1)
    return hot


def coactivation(topk: np.ndarray, n_experts: int) -> np.ndarray:
    """P(b chosen | a chosen) per layer over all pairs in a token's top-k: (L, E, E).

    Entry [l, a, b] is the share of tokens routed to a at layer l that are also routed to
    b. The diagonal is 0; rows of experts never chosen are NaN.

    >>> topk = np.array([[[0, 1]], [[0, 2]]])    # 2 tokens, 1 layer, top-2 of 3 experts
    >>> coactivation(topk, 3)[0].tolist()
    [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """
    ids = _check_topk(topk, n_experts)
    n_layers = ids.shape[1]
    together = np.zeros((n_layers, n_experts, n_experts))
    for start in range(0, len(ids), _BLOCK):
        hot = _one_hot(ids[start : start + _BLOCK], n_experts)  # (b, L, E)
        together += hot.transpose(1, 2, 0) @ hot.transpose(1, 0, 2)  # (L, E, E)
    chosen = np.diagonal(together, axis1=1, axis2=2).copy()  # (L, E)
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(chosen[:, :, None] > 0, together / chosen[:, :, None], np.nan)
    idx = np.arange(n_experts)
    cond[:, idx, idx] = np.where(chosen > 0, 0.0, np.nan)
    return cond


def routing_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy (natural log) of each router distribution p_l: (n, L, E) -> (n, L).

    >>> routing_entropy(np.array([[[0.5, 0.5], [1.0, 0.0]]])).round(4).tolist()
    [[0.6931, 0.0]]
    """
    return entr(_check_probs(probs)).sum(axis=-1)


def topk_mass(probs: np.ndarray, top_k: int) -> np.ndarray:
    """Weight of the `top_k` largest router probabilities: (n, L, E) -> (n, L).

    >>> topk_mass(np.array([[[0.1, 0.6, 0.3]]]), top_k=2).round(6).tolist()
    [[0.9]]
    """
    probs = _check_probs(probs)
    if not 1 <= top_k <= probs.shape[2]:
        raise ValueError(f"top_k must lie in [1, {probs.shape[2]}], got {top_k}")
    return -np.sort(-probs, axis=-1)[..., :top_k].sum(axis=-1)


def _routing_counts(ids: np.ndarray, codes: np.ndarray, n_codes: int, n_experts: int) -> np.ndarray:
    """Tokens of each code routed to each expert per layer: (n_codes, L, E) int64."""
    n_layers = ids.shape[1]
    counts = np.zeros(n_codes * n_layers * n_experts, dtype=np.int64)
    cell = (np.arange(n_layers) * n_experts)[None, :, None]  # (1, L, 1)
    for start in range(0, len(ids), _BLOCK):
        block = ids[start : start + _BLOCK]  # (b, L, k)
        offset = (codes[start : start + _BLOCK] * n_layers * n_experts)[:, None, None]  # (b, 1, 1)
        counts += np.bincount((offset + cell + block).ravel(), minlength=len(counts))
    return counts.reshape(n_codes, n_layers, n_experts)


def expert_load(topk: np.ndarray, n_experts: int) -> np.ndarray:
    """Share of each layer's routings (token, rank) that go to each expert: (L, E).

    >>> expert_load(np.array([[[0, 1]], [[0, 2]]]), 4).tolist()
    [[0.5, 0.25, 0.25, 0.0]]
    """
    ids = _check_topk(topk, n_experts)
    counts = _routing_counts(ids, np.zeros(len(ids), dtype=np.int64), 1, n_experts)[0]  # (L, E)
    return counts / max(len(ids) * ids.shape[2], 1)


def load_cv(load: np.ndarray) -> np.ndarray:
    """Coefficient of variation (population std / mean) of each layer's load: (L, E) -> (L,).

    >>> load_cv(np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])).tolist()
    [0.0, 1.0]
    """
    load = np.asarray(load, dtype=np.float64)
    if load.ndim != 2:
        raise ValueError(f"load must have shape (n_layers, n_experts), got {load.shape}")
    mean = load.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, load.std(axis=1) / mean, np.nan)


def specialisation(topk: np.ndarray, labels: Sequence, n_experts: int) -> pd.DataFrame:
    """Per label (domain or token id), layer and expert: share of its tokens routed there.

    Columns: label, layer, expert, share, uniform_share (= k / E, the share under uniform
    routing) and ratio = share / uniform_share.

    >>> table = specialisation(np.array([[[0]], [[0]], [[1]]]), ["math", "math", "code"], 2)
    >>> table
      label  layer  expert  share  uniform_share  ratio
    0  math      0       0    1.0            0.5    2.0
    1  math      0       1    0.0            0.5    0.0
    2  code      0       0    0.0            0.5    0.0
    3  code      0       1    1.0            0.5    2.0
    """
    ids = _check_topk(topk, n_experts)
    label_arr = np.asarray(labels, dtype=object)
    if label_arr.shape != (len(ids),):
        raise ValueError(f"need one label per token ({len(ids)}), got shape {label_arr.shape}")
    codes, uniques = pd.factorize(label_arr)
    counts = _routing_counts(ids, codes.astype(np.int64), len(uniques), n_experts)  # (n_labels, L, E)
    per_label = np.bincount(codes, minlength=len(uniques))[:, None, None]  # (n_labels, 1, 1)
    share = counts / per_label  # (n_labels, L, E)
    uniform = ids.shape[2] / n_experts
    grid = np.indices(share.shape).reshape(3, -1)  # (3, n_labels * L * E)
    return pd.DataFrame({
        LABEL: np.asarray(uniques, dtype=object)[grid[0]], names.LAYER: grid[1], names.EXPERT: grid[2],
        SHARE: share.ravel(), UNIFORM_SHARE: uniform, RATIO: share.ravel() / uniform,
    })
