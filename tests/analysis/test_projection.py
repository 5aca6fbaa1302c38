"""The pathway maps: the shortcut around a umap-learn hot spot changes no output bit, and each map
starts from the previous checkpoint's, so samples move smoothly."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from grokviz.analysis import projection


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(3)
    dist = rng.dirichlet(np.full(16, 0.3), size=(2, 120, 4))  # (steps, samples, layers, experts)
    return [projection.pathway_vectors(d, 0.7, None) for d in dist]


@pytest.mark.slow
def test_maps_are_bitwise_the_same_with_and_without_the_shortcut(vectors, monkeypatch):
    first = projection.step_map(vectors[0], seed=0)
    fast = projection.step_map(vectors[1], seed=0, init=first)
    monkeypatch.setattr(projection, "exact_shortcuts", contextlib.nullcontext)
    assert np.array_equal(projection.step_map(vectors[0], seed=0), first)
    assert np.array_equal(projection.step_map(vectors[1], seed=0, init=first), fast)


@pytest.mark.slow
def test_a_map_started_from_the_previous_one_stays_close_to_it(vectors):
    """The same routing one checkpoint later: started from the previous map, points hardly move;
    fitted from scratch, the layout is arbitrary (rotated, mirrored, rearranged); different routing
    moves them."""
    first = projection.step_map(vectors[0], seed=0)
    again = projection.step_map(vectors[0] + 0.0, seed=1, init=first)
    fresh = projection.step_map(vectors[0], seed=1)
    other = projection.step_map(vectors[1], seed=1, init=first)  # independent routing
    span = np.ptp(first, axis=0).mean()
    moved = np.median(np.linalg.norm(again - first, axis=1))
    assert moved < 0.25 * span
    assert moved < 0.5 * np.median(np.linalg.norm(fresh - first, axis=1))
    assert moved < 0.5 * np.median(np.linalg.norm(other - first, axis=1))


@pytest.mark.parametrize("n", [1, 3])
def test_the_shortcut_restores_umap_afterwards(n):
    import umap.umap_ as core

    before = core.pairwise_distances
    with contextlib.suppress(RuntimeError), projection.exact_shortcuts():
        assert core.pairwise_distances is not before
        if n == 3:
            raise RuntimeError("a failed fit")
    assert core.pairwise_distances is before
