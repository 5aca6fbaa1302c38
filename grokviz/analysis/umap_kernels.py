"""numba kernels that replace umap-learn ones with the same machine code, but cached on disk.

umap-learn 0.5 computes the all-pairs distances of a small input (< 4,096 points) with
`umap.distances.parallel_special_metric`, which takes the metric as a function argument; numba
cannot keep such a specialisation in its on-disk cache, so every process compiled it again on its
first fit (about 1.8 s on 2 cores). `euclidean_pairs` is the same loop with umap's own `euclidean`
called from it, so it compiles to the same arithmetic and is cached. Imported only by
`grokviz.analysis.projection`, only while a map is being fitted (it imports numba and umap).
"""

from __future__ import annotations

import numba
import numpy as np
from umap.distances import euclidean


@numba.njit(cache=True)
def euclidean_pairs(X):
    """All-pairs euclidean distances of the rows of X, float64 (n, n), as umap computes them."""
    n = X.shape[0]
    result = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            result[i, j] = euclidean(X[i], X[j])
            result[j, i] = result[i, j]
    return result
