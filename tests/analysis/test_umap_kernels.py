"""The cached numba kernels compute what umap-learn's own ones compute, to the bit."""

import numpy as np
import pytest

umap_distances = pytest.importorskip("umap.distances")

from grokviz.analysis.umap_kernels import euclidean_pairs  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_euclidean_pairs_equal_umaps_all_pairs_loop(dtype):
    rng = np.random.default_rng(4)
    vectors = ((rng.random((60, 48)) > 0.8) + 1e-3 * rng.standard_normal((60, 48))).astype(dtype)
    ours = euclidean_pairs(vectors)
    theirs = umap_distances.parallel_special_metric(vectors, metric=umap_distances.euclidean)
    assert ours.dtype == theirs.dtype == np.float64
    assert np.array_equal(ours, theirs)
    assert np.array_equal(ours, ours.T) and not ours.diagonal().any()
