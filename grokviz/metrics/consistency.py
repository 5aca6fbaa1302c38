"""Pathway consistency of one sample across layers (METHOD 4).

Each layer's token-averaged router distribution g_l is turned into a routing embedding
e_l = g_l @ W_l, with W_l (n_experts, d) the router weight matrix of layer l (bias ignored).
Adjacent layers are compared by cosine c_l = cos(e_l, e_{l+1}), and the paper's score is
C = 1 - (1/(L-1)) * sum_l c_l / (max_l c_l + 1e-8), kept exactly as written, beside the
plain mean cosine mean_l c_l. Everything is computed in float64, in blocks of samples.

Options (METHOD 4): the weights may be the full distribution (the formula as written), only
the pathway's tau-selected experts (`selected_weights`), or the model's own per-token top-k
(`topk_distribution`); and cosines may be of token-averaged embeddings (`layer_cosines`) or
per-token cosines averaged (`per_token_cosines`). The formula is ill-conditioned when max_l c_l
is near 0, meaningless when it is <= 0, and with 2 MoE layers about 1e-8 / c whatever the routing.
This module never reads router weights from a model and never aggregates over groups.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from grokviz.metrics.pathways import ranked_experts

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
    emb = np.matmul(g.transpose(1, 0, 2), weights).transpose(1, 0, 2)  # (b, L, d); per-layer BLAS, ~5x einsum
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
    return score(layer_cosines(dist, router_weights, block))  # cosines: (n, L - 1)


def score(cosines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paper's C and the plain mean cosine from layer cosines (n_samples, n_layers - 1).

    >>> c, mean_cos = score(np.array([[0.5, 1.0]]))
    >>> round(float(c[0]), 6), float(mean_cos[0])
    (0.25, 0.75)
    """
    cos = np.asarray(cosines, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any cosine (no token routes)
        scaled = cos / (np.nanmax(cos, axis=1, keepdims=True) + PAPER_EPSILON)  # (n, L - 1)
        return 1.0 - scaled.mean(axis=1), cos.mean(axis=1)


def selected_weights(dist: np.ndarray, tau: float | None = 0.7, top_k: int | None = None) -> np.ndarray:
    """`dist` with every expert outside the sample's pathway set to 0 (METHOD 4, "only the
    selected experts"). Renormalising the kept weights would change no cosine: a cosine ignores
    each embedding's scale, so consistency is the same either way.

    >>> selected_weights(np.array([[[0.5, 0.3, 0.2]]]), tau=0.7).tolist()
    [[[0.5, 0.3, 0.0]]]
    """
    dist = np.asarray(dist, dtype=np.float64)
    order, counts = ranked_experts(dist, tau, top_k)  # (n, L, E), (n, L)
    kept = np.arange(dist.shape[2])[None, None, :] < counts[..., None]  # in rank order
    out = np.zeros_like(dist)
    np.put_along_axis(out, order, np.where(kept, np.take_along_axis(dist, order, axis=2), 0.0), axis=2)
    return out


def topk_distribution(rows: np.ndarray, experts: np.ndarray, weights: np.ndarray, n_rows: int,
                      n_experts: int) -> np.ndarray:
    """Token-averaged routing of the model's own top-k: for each sample, the mean over its tokens
    of the sparse vector holding each chosen expert's router probability. `rows` (n_tokens,) is
    the sample row of each token; `experts`, `weights` (n_tokens, n_layers, top_k).
    Returns (n_rows, n_layers, n_experts); samples without tokens are NaN.

    >>> topk_distribution(np.array([0, 0]), np.array([[[1]], [[2]]]), np.array([[[0.6]], [[0.4]]]), 1, 3).tolist()
    [[[0.0, 0.3, 0.2]]]
    """
    n_tokens, n_layers, top_k = experts.shape
    out = np.zeros((n_rows, n_layers, n_experts))
    layer = np.broadcast_to(np.arange(n_layers)[None, :, None], experts.shape)
    row = np.broadcast_to(np.asarray(rows)[:, None, None], experts.shape)
    np.add.at(out, (row.ravel(), layer.ravel(), np.asarray(experts).ravel()), np.asarray(weights).ravel())
    count = np.bincount(rows, minlength=n_rows).astype(np.float64)[:, None, None]  # tokens per sample
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, out / count, np.nan)


def per_token_cosines(rows: np.ndarray, experts: np.ndarray, weights: np.ndarray, n_rows: int,
                      router_weights: Sequence[np.ndarray] | np.ndarray, n_experts: int) -> np.ndarray:
    """Per-token cosines between consecutive layers' embeddings of the model's own top-k
    (e_l(pos) = sum_k w_k W_l[expert_k]), averaged over each sample's tokens: (n_rows, n_layers - 1).

    >>> w = np.stack([np.eye(2)] * 2)  # 2 layers, 2 experts, d = 2
    >>> per_token_cosines(np.array([0, 0]), np.array([[[0], [0]], [[0], [1]]]), np.ones((2, 2, 1)), 1, w, 2).tolist()
    [[0.5]]
    """
    n_tokens, n_layers, top_k = experts.shape
    stacked = _stack_router_weights(router_weights, n_layers, n_experts)  # (L, E, d)
    layer = np.broadcast_to(np.arange(n_layers)[None, :, None], experts.shape)
    emb = (stacked[layer, experts] * np.asarray(weights)[..., None]).sum(axis=2)  # (n_tokens, L, d)
    dots = np.einsum("tld,tld->tl", emb[:, :-1], emb[:, 1:])
    norms = np.linalg.norm(emb, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = dots / (norms[:, :-1] * norms[:, 1:])  # (n_tokens, L - 1)
    sums = np.zeros((n_rows, n_layers - 1))
    np.add.at(sums, rows, np.nan_to_num(cos))
    count = np.bincount(rows, minlength=n_rows).astype(np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, sums / count, np.nan)
