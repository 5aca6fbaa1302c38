"""Pathway consistency of one sample across layers (METHOD 4).

Each layer's token-averaged router distribution g_l is turned into a routing embedding
e_l = g_l @ W_l, with W_l (n_experts, d) the router weight matrix of layer l (bias ignored).
Adjacent layers are compared by cosine c_l = cos(e_l, e_{l+1}), and the paper's score is
C = 1 - (1/(L-1)) * sum_l c_l / (max_l c_l + 1e-8), kept exactly as written, beside the
plain mean cosine mean_l c_l. Everything is computed in float64, in blocks of samples.

This module never reads router weights from a model and never aggregates over groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PAPER_EPSILON = 1e-8  # the paper's guard in max_l c_l + 1e-8


def _stack_router_weights(
    router_weights: Sequence[np.ndarray] | np.ndarray, n_layers: int, n_experts: int
) -> np.ndarray:
    """Router weights as one float64 array (n_layers, n_experts, d), validated."""
    if isinstance(router_weights, np.ndarray) and router_weights.ndim == 3:
        stacked = router_weights.astype(np.float64)
    else:
        layers = [np.asarray(w, dtype=np.float64) for w in router_weights]
        if any(w.ndim != 2 for w in layers) or len({w.shape for w in layers}) > 1:
            raise ValueError("router_weights must be arrays of one shape (n_experts, d)")
        stacked = np.stack(layers) if layers else np.zeros((0, n_experts, 0))
    if stacked.shape[:2] != (n_layers, n_experts):
        raise ValueError(
            f"router_weights must have shape ({n_layers}, {n_experts}, d) to match dist, "
            f"got {stacked.shape}"
        )
    return stacked


def _adjacent_cosines(g: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """cos(e_l, e_{l+1}) for a block of samples: (b, L, E) -> (b, L - 1); nan on zero norm."""
    emb = np.einsum("ble,led->bld", g, weights)  # (b, L, d)
    dots = np.einsum("bld,bld->bl", emb[:, :-1], emb[:, 1:])  # (b, L - 1)
    norms = np.linalg.norm(emb, axis=-1)  # (b, L)
    denom = norms[:, :-1] * norms[:, 1:]  # (b, L - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, dots / denom, np.nan)


def layer_cosines(
    dist: np.ndarray, router_weights: Sequence[np.ndarray] | np.ndarray, block: int = 256
) -> np.ndarray:
    """Cosines c_l between adjacent routing embeddings: shape (n_samples, n_layers - 1).

    A layer whose embedding is zero gives nan for the cosines that involve it.

    >>> g = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # (1 sample, 3 layers, 2 experts)
    >>> layer_cosines(g, np.stack([np.eye(2)] * 3)).tolist()
    [[1.0, 0.0]]
    """
    g = np.asarray(dist, dtype=np.float64)
    if g.ndim != 3:
        raise ValueError(f"dist must have shape (n_samples, n_layers, n_experts), got {g.shape}")
    if g.shape[1] < 2:
        raise ValueError(f"consistency needs at least 2 layers, got {g.shape[1]}")
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    weights = _stack_router_weights(router_weights, g.shape[1], g.shape[2])
    parts = [_adjacent_cosines(g[s : s + block], weights) for s in range(0, len(g), block)]
    return np.concatenate(parts) if parts else np.zeros((0, g.shape[1] - 1))


def consistency(
    dist: np.ndarray, router_weights: Sequence[np.ndarray] | np.ndarray, block: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Pathway consistency C and plain mean cosine per sample, each of shape (n_samples,).

    `dist` (n_samples, n_layers, n_experts); `router_weights` one (n_experts, d) array per
    layer, or one (n_layers, n_experts, d) array. By hand, with W_l = identity: sample 0
    routes (1,0), (1,0), (0,1), so c = (1, 0), C = 1 - (1/(1+1e-8) + 0)/2 ~ 0.5 and the mean
    cosine is 0.5; sample 1 routes (1,0) everywhere, so c = (1, 1), C ~ 0 and mean 1.

    >>> g = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
    ...               [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    >>> c, mean_cos = consistency(g, [np.eye(2)] * 3)
    >>> np.round(c, 6).tolist(), mean_cos.tolist()
    ([0.5, 0.0], [0.5, 1.0])
    """
    cos = layer_cosines(dist, router_weights, block)  # (n, L - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = cos / (cos.max(axis=1, keepdims=True) + PAPER_EPSILON)  # (n, L - 1)
        return 1.0 - scaled.mean(axis=1), cos.mean(axis=1)
