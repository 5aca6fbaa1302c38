"""2-D maps of samples' pathways per checkpoint, each started from the previous one (UMAP).

Each sample becomes a multi-hot vector of the experts its pathway keeps (n_layers x E). The first
projected checkpoint gets a full UMAP fit; each later one is fitted for FOLLOW_EPOCHS epochs
starting from the previous map (`init`), so the same sample moves smoothly along the dashboard's
checkpoint slider. That light alignment replaced AlignedUMAP (grokviz 0.1): about 5x faster on
1,000 samples x 10 checkpoints, and each map depends only on its own checkpoint and the one before,
so `analyze` caches it per checkpoint and adding a checkpoint fits one map. Seeded and stored: the
dashboard never projects. `umap` is imported only here, only when a projection is asked for (its
first import compiles for ~25 s).

`exact_shortcuts` removes a hot spot of umap-learn 0.5 on this input without changing a single
output bit (tests/analysis/test_projection.py compares). `_cache_compiled` turns numba's on-disk
cache on for the umap-learn and pynndescent functions that lack it: without it every process
compiles about 190 of them on its first fit (about 12 s on 2 cores, most of what adding one
checkpoint's map costs); with it only the first process on a machine does. The same machine code
runs, so the maps are the same bits.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.pathways import kept_mask


def pathway_vectors(dist: np.ndarray, tau: float | None, top_k: int | None) -> np.ndarray:
    """Multi-hot kept-expert vectors, (n_samples, n_layers * n_experts) float32."""
    return kept_mask(dist, tau=tau, top_k=top_k).reshape(len(dist), -1).astype(np.float32)


FOLLOW_EPOCHS = 60  # epochs of a map started from the previous checkpoint's
FOLLOW_LEARNING_RATE = 0.3  # a gentler start than a full fit's 1.0: unchanged routing moves ~0.15 of the span


def step_map(vectors: np.ndarray, seed: int = 0, init: np.ndarray | None = None) -> np.ndarray:
    """One checkpoint's 2-D map, (n_samples, 2): a full UMAP fit, or FOLLOW_EPOCHS epochs from `init`."""
    n = len(vectors)
    if n < 5:
        return np.zeros((n, 2), dtype=np.float32)
    jitter = np.random.default_rng(seed).standard_normal(vectors.shape).astype(np.float32)
    import umap

    _cache_compiled()

    # umap says once per fit that a fixed random_state means one thread: we want exactly that
    warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
    follow = {} if init is None else {"init": np.asarray(init, dtype=np.float64), "n_epochs": FOLLOW_EPOCHS,
                                      "learning_rate": FOLLOW_LEARNING_RATE}
    with exact_shortcuts():
        mapper = umap.UMAP(n_neighbors=int(min(15, n - 1)), random_state=seed, metric="euclidean", **follow)
        embedding = mapper.fit_transform(vectors + 1e-3 * jitter).astype(np.float32)
    if init is None:
        return embedding
    # umap rescales `init` into the box [0, 10]^2 and the layout then contracts; put the result
    # back on the previous map's centre and spread so that a point that does not move stays put
    spread = embedding.std(axis=0)
    scale = np.where(spread > 0, init.std(axis=0) / np.where(spread > 0, spread, 1.0), 1.0)
    return ((embedding - embedding.mean(axis=0)) * scale + init.mean(axis=0)).astype(np.float32)


_COMPILED_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.spectral", "umap.sparse",
                     "pynndescent.pynndescent_", "pynndescent.utils", "pynndescent.distances",
                     "pynndescent.rp_trees", "pynndescent.sparse")


@functools.cache
def _cache_compiled() -> int:
    """Turn on numba's on-disk cache for the compiled functions of umap-learn and pynndescent that do
    not use it (once per process); returns how many. A function numba cannot cache (no writable
    cache folder, say) is simply compiled as before."""
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return 0
    enabled = 0
    for name in _COMPILED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for function in list(vars(module).values()):
            if isinstance(function, Dispatcher) and isinstance(function._cache, NullCache):
                try:
                    function.enable_caching()
                    enabled += 1
                except Exception:  # numba's own reasons not to cache: compiling still works
                    continue
    return enabled


def map_frame(step: int, sample_ids: np.ndarray, embedding: np.ndarray) -> pd.DataFrame:
    """Rows (step, sample_id, x, y) of one checkpoint's map."""
    return pd.DataFrame({names.STEP: step, names.SAMPLE_ID: sample_ids, "x": embedding[:, 0], "y": embedding[:, 1]})


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
    """While fitting, swap a umap-learn 0.5 internal for an equivalent that computes the same bits:
    all-pairs distances of small data (< 4,096 points): umap hands its numba `euclidean` to
       sklearn, which calls it once per pair from Python; `umap_kernels.euclidean_pairs` loops over
       the same function in numba, cached on disk (same float64 values, cast to the input's float
       dtype as sklearn does).
    Left alone (the originals run) for any other umap version or input.
    """
    import umap
    import umap.umap_ as core

    if not umap.__version__.startswith("0.5."):
        yield
        return
    from umap.distances import named_distances

    from grokviz.analysis.umap_kernels import euclidean_pairs

    pairwise = core.pairwise_distances
    euclidean = named_distances["euclidean"]

    def fast_pairwise(X, Y=None, metric="euclidean", **kwds):
        if metric is euclidean and Y is None and not kwds and isinstance(X, np.ndarray) \
                and X.dtype in (np.float32, np.float64):
            return euclidean_pairs(X).astype(X.dtype)
        return pairwise(X, Y, metric=metric, **kwds)

    core.pairwise_distances = fast_pairwise
    try:
        yield
    finally:
        core.pairwise_distances = pairwise
