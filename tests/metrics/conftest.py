"""Fixture factories for the metric tests: random router distributions and pathways.

Everything is synthetic and seeded; nothing here touches a model, a store or the network.
"""

from __future__ import annotations

import numpy as np
import pytest


def make_dist(
    n_samples: int, n_layers: int, n_experts: int, seed: int = 0, dtype=np.float64, ties: bool = False
) -> np.ndarray:
    """Router distributions (n_samples, n_layers, n_experts), rows summing to about 1.

    With `ties`, weights are small integers over their sum, so equal weights are common.
    """
    rng = np.random.default_rng(seed)
    if ties:
        raw = rng.integers(0, 4, size=(n_samples, n_layers, n_experts)).astype(np.float64)
        raw[..., 0] += 1  # no all-zero row
    else:
        raw = rng.dirichlet(np.full(n_experts, 0.5), size=(n_samples, n_layers))
    return (raw / raw.sum(axis=-1, keepdims=True)).astype(dtype)


def make_pathways(n: int, n_layers: int = 4, n_experts: int = 16, seed: int = 0, shared: int = 2) -> list[str]:
    """Random pathway strings; the first `shared` layers come from a few templates."""
    rng = np.random.default_rng(seed)
    templates = [
        [",".join(map(str, rng.choice(n_experts, rng.integers(1, 4), replace=False))) for _ in range(shared)]
        for _ in range(3)
    ]
    out = []
    for _ in range(n):
        head = templates[rng.integers(len(templates))]
        tail = [",".join(map(str, rng.choice(n_experts, rng.integers(1, 4), replace=False)))
                for _ in range(n_layers - shared)]
        out.append("-".join(head + tail))
    return out


@pytest.fixture
def dist_factory():
    """`dist_factory(n_samples, n_layers, n_experts, seed=0, dtype=np.float64, ties=False)`."""
    return make_dist


@pytest.fixture
def pathway_factory():
    """`pathway_factory(n, n_layers=4, n_experts=16, seed=0, shared=2)` -> pathway strings."""
    return make_pathways
