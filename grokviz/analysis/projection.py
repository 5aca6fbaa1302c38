"""2-D maps of samples' pathways per checkpoint, aligned across checkpoints (AlignedUMAP).

Each sample becomes a multi-hot vector of the experts its pathway keeps (n_layers x E); the
maps of consecutive checkpoints are aligned through the identity of samples, so points move
smoothly along the dashboard's checkpoint slider. Seeded and stored: the dashboard never
projects. `umap` is imported only here, only when a projection is asked for (its first
import compiles for ~25 s).

`exact_shortcuts` removes two hot spots of umap-learn 0.5 on this input without changing a
single output bit (tests/analysis/test_projection_speed.py compares): on 2,000 samples x 10
checkpoints they took about 60% of the projection's time.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.pathways import ranked_experts


def pathway_vectors(dist: np.ndarray, tau: float | None, top_k: int | None) -> np.ndarray:
    """Multi-hot kept-expert vectors, (n_samples, n_layers * n_experts) float32."""
    order, counts = ranked_experts(dist, tau=tau, top_k=top_k)  # (n, L, E), (n, L)
    rank_of = np.argsort(order, axis=-1)  # rank of each expert id, shape (n, L, E)
    kept = rank_of < counts[..., None]
    return kept.reshape(len(dist), -1).astype(np.float32)


def aligned_maps(vectors: dict[int, np.ndarray], sample_ids: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Rows (step, sample_id, x, y) for every step, same samples in the same row order."""
    steps = sorted(vectors)
    if len(sample_ids) < 5:
        return pd.DataFrame(columns=[names.STEP, names.SAMPLE_ID, "x", "y"])
    jitter = np.random.default_rng(seed)
    slices = [vectors[s] + 1e-3 * jitter.standard_normal(vectors[s].shape).astype(np.float32) for s in steps]
    n = len(sample_ids)
    neighbours = int(min(15, n - 1))
    import umap

    # umap says once per fit that a fixed random_state means one thread: we want exactly that
    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
    if len(steps) == 1:
        with exact_shortcuts():
            embeddings = [umap.UMAP(n_neighbors=neighbours, random_state=seed, metric="euclidean")
                          .fit_transform(slices[0])]
    else:
        relations = [{i: i for i in range(n)} for _ in steps[1:]]
        mapper = umap.AlignedUMAP(n_neighbors=neighbours, random_state=seed, metric="euclidean")
        with exact_shortcuts():
            embeddings = mapper.fit(slices, relations=relations).embeddings_
    frames = [pd.DataFrame({names.STEP: step, names.SAMPLE_ID: sample_ids,
                            "x": np.asarray(e)[:, 0], "y": np.asarray(e)[:, 1]})
              for step, e in zip(steps, embeddings)]
    return pd.concat(frames, ignore_index=True)


def pick(values: list, count: int) -> list:
    """At most `count` items, evenly spaced, first and last included.

    >>> pick(list(range(10)), 4)
    [0, 3, 6, 9]
    """
    if len(values) <= count:
        return list(values)
    return [values[round(i * (len(values) - 1) / (count - 1))] for i in range(count)]


@contextlib.contextmanager
def exact_shortcuts() -> Iterator[None]:
    """While fitting, swap two umap-learn 0.5 internals for equivalents that compute the same bits.

    1. All-pairs distances of small data (< 4,096 points): umap hands its numba `euclidean` to
       sklearn, which calls it once per pair from Python; umap's own parallel loop calls the same
       function (same float64 values, cast to the input's float dtype as sklearn does).
    2. AlignedUMAP's neighbourhood similarities: membership in a relation was tested by building a
       set of every sample once per sample; here a mask is built once per pair of checkpoints.
    Left alone (the originals run) for any other umap version or input.
    """
    import umap
    import umap.aligned_umap as aligned
    import umap.umap_ as core

    if not umap.__version__.startswith("0.5."):
        yield
        return
    from umap.distances import named_distances, parallel_special_metric

    pairwise, similarities = core.pairwise_distances, aligned.build_neighborhood_similarities
    euclidean = named_distances["euclidean"]

    def fast_pairwise(X, Y=None, metric="euclidean", **kwds):
        if metric is euclidean and Y is None and not kwds and isinstance(X, np.ndarray) \
                and X.dtype in (np.float32, np.float64):
            return parallel_special_metric(X, metric=euclidean).astype(X.dtype)
        return pairwise(X, Y, metric=metric, **kwds)

    core.pairwise_distances, aligned.build_neighborhood_similarities = fast_pairwise, _similarities()
    try:
        yield
    finally:
        core.pairwise_distances, aligned.build_neighborhood_similarities = pairwise, similarities


_COMPILED: list = []


def _similarities():
    """umap.aligned_umap.build_neighborhood_similarities with the per-sample set built once per
    (checkpoint, window offset) as a mask; every other line as in umap-learn 0.5.12."""
    if _COMPILED:
        return _COMPILED[0]
    import numba
    from umap.sparse import arr_intersect, arr_union

    @numba.njit()
    def similarities(graphs_indptr, graphs_indices, relations):
        result = np.zeros(relations.shape, dtype=np.float32)
        center_index = (relations.shape[1] - 1) // 2
        for i in range(relations.shape[0]):
            base_indptr, base_indices_all = graphs_indptr[i], graphs_indices[i]
            for j in range(relations.shape[1]):
                other = i + j - center_index
                if other < 0 or other >= len(graphs_indptr):
                    continue
                comparison_indptr, comparison_indices_all = graphs_indptr[other], graphs_indices[other]
                member = np.zeros(comparison_indptr.shape[0], dtype=np.bool_)  # in relations[i, j]
                for value in relations[i, j]:
                    if 0 <= value < member.shape[0]:
                        member[value] = True
                for k in range(relations.shape[2]):
                    comparison_index = relations[i, j, k]
                    if comparison_index < 0:
                        continue
                    raw = base_indices_all[base_indptr[k]: base_indptr[k + 1]].copy()
                    base_indices = relations[i, j][raw[raw < relations.shape[2]]]
                    base_indices = base_indices[base_indices >= 0]
                    comparison = comparison_indices_all[
                        comparison_indptr[comparison_index]: comparison_indptr[comparison_index + 1]]
                    comparison = comparison[member[comparison]]
                    union_size = arr_union(base_indices, comparison).shape[0]
                    if union_size > 0:
                        result[i, j, k] = arr_intersect(base_indices, comparison).shape[0] / union_size
                    else:
                        result[i, j, k] = 1.0
        return result

    _COMPILED.append(similarities)
    return similarities
