"""2-D maps of samples' pathways per checkpoint, aligned across checkpoints (AlignedUMAP).

Each sample becomes a multi-hot vector of the experts its pathway keeps (n_layers x E); the
maps of consecutive checkpoints are aligned through the identity of samples, so points move
smoothly along the dashboard's checkpoint slider. Seeded and stored: the dashboard never
projects. `umap` is imported only here, only when a projection is asked for (its first
import compiles for ~25 s).
"""

from __future__ import annotations

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
    if len(steps) == 1:
        import umap

        embeddings = [umap.UMAP(n_neighbors=neighbours, random_state=seed, metric="euclidean")
                      .fit_transform(slices[0])]
    else:
        import umap

        relations = [{i: i for i in range(n)} for _ in steps[1:]]
        mapper = umap.AlignedUMAP(n_neighbors=neighbours, random_state=seed, metric="euclidean")
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
