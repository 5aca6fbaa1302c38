"""The projection's shortcuts around umap-learn hot spots change no output bit."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from grokviz.analysis import projection


@pytest.mark.slow
def test_aligned_maps_are_bitwise_the_same_with_and_without_the_shortcuts(monkeypatch):
    rng = np.random.default_rng(3)
    dist = rng.dirichlet(np.full(16, 0.3), size=(3, 120, 4))  # (steps, samples, layers, experts)
    vectors = {step: projection.pathway_vectors(d, 0.7, None) for step, d in zip((100, 200, 300), dist)}
    ids = np.array([f"s{i:03d}" for i in range(120)])
    fast = projection.aligned_maps(vectors, ids, seed=0)
    monkeypatch.setattr(projection, "exact_shortcuts", contextlib.nullcontext)
    slow = projection.aligned_maps(vectors, ids, seed=0)
    assert fast.equals(slow)


@pytest.mark.parametrize("n", [1, 3])
def test_the_shortcuts_restore_umap_afterwards(n):
    import umap.aligned_umap as aligned
    import umap.umap_ as core

    before = core.pairwise_distances, aligned.build_neighborhood_similarities
    with contextlib.suppress(RuntimeError), projection.exact_shortcuts():
        assert core.pairwise_distances is not before[0]
        if n == 3:
            raise RuntimeError("a failed fit")
    assert (core.pairwise_distances, aligned.build_neighborhood_similarities) == before
