"""The pair cache hands back distances computed before, computes only the missing pairs, and keeps
what the next analysis needs."""

from __future__ import annotations

import numpy as np

from grokviz.analysis.paircache import PairCache
from grokviz.metrics.distance import mean_pairwise_distance, per_layer_mean_distance
from grokviz.metrics.pair_sample import member_keys


class Counting:
    """A compute callback that records how many pairs it was asked for."""

    def __init__(self, values):
        self.values, self.asked = values, 0

    def __call__(self, missing):
        self.asked += int(missing.sum())
        return self.values[missing]


def test_missing_pairs_are_computed_and_found_pairs_read():
    a, b = np.arange(1, 6, dtype=np.uint64), np.arange(11, 16, dtype=np.uint64)
    values = np.arange(5)[:, None] * 3
    cache = PairCache(1)
    first = Counting(values)
    assert cache.get(a, b, first)[:, 0].tolist() == [0, 3, 6, 9, 12] and first.asked == 5
    again = PairCache(1, cache.to_arrow())
    second = Counting(values)
    assert again.get(b[:3], a[:3], second)[:, 0].tolist() == [0, 3, 6]  # either order of the two keys
    assert second.asked == 0 and again.computed == 0
    mixed = Counting(np.array([[99], [98]]))
    got = again.get(np.array([1, 7], dtype=np.uint64), np.array([11, 8], dtype=np.uint64), mixed)
    assert got[:, 0].tolist() == [0, 98] and mixed.asked == 1 and again.computed == 1


def test_what_is_kept_is_what_was_read_or_computed():
    cache = PairCache(2)
    keys = np.arange(1, 11, dtype=np.uint64)
    cache.get(keys[:5], keys[5:], lambda m: np.ones((int(m.sum()), 2)))
    later = PairCache(2, load=cache.to_arrow)
    later.get(keys[:2], keys[5:7], lambda m: np.zeros((int(m.sum()), 2)))
    later.get(keys[:1], keys[1:2], lambda m: np.full((int(m.sum()), 2), 7))
    kept = later.to_arrow().to_pydict()
    assert sorted(zip(kept["lo"], kept["hi"], kept["d1"])) == [(1, 2, 7), (1, 6, 1), (2, 7, 1)]


def _pathways(n: int, n_layers: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["-".join(",".join(map(str, rng.choice(16, rng.integers(1, 4), replace=False))) for _ in range(n_layers))
            for _ in range(n)]


def test_a_group_that_lost_a_member_reuses_nearly_all_its_distances():
    paths = _pathways(400, n_layers=6, seed=3)
    keys = member_keys([f"s{k}" for k in range(400)])
    cache, layers = PairCache(1), PairCache(6)
    full = mean_pairwise_distance(paths, max_pairs=2000, keys=keys, known=cache)
    assert full == mean_pairwise_distance(paths, max_pairs=2000, keys=keys)  # the cache changes nothing
    strings = np.array([p.split("-") for p in paths], dtype=object)
    per_layer = per_layer_mean_distance(strings, "expert", 500, keys=keys, known=layers)
    assert per_layer == per_layer_mean_distance(strings, "expert", 500, keys=keys)
    cache, layers = PairCache(1, cache.to_arrow()), PairCache(6, layers.to_arrow())
    fewer = mean_pairwise_distance(paths[1:], max_pairs=2000, keys=keys[1:], known=cache)
    assert fewer == mean_pairwise_distance(paths[1:], max_pairs=2000, keys=keys[1:])
    assert 0 < cache.computed < 0.05 * 2000
    assert per_layer_mean_distance(strings[1:], "expert", 500, keys=keys[1:], known=layers) == \
        per_layer_mean_distance(strings[1:], "expert", 500, keys=keys[1:])
    assert layers.computed < 0.05 * 500


def test_an_exact_mean_read_through_the_cache_is_the_streamed_exact_mean():
    paths = _pathways(60, n_layers=5, seed=8)
    keys = member_keys([f"s{k}" for k in range(60)])
    assert mean_pairwise_distance(paths, max_pairs=5000, keys=keys, known=PairCache(1)) == \
        mean_pairwise_distance(paths, max_pairs=5000)
    strings = np.array([p.split("-") for p in paths], dtype=object)
    assert per_layer_mean_distance(strings, "expert", 5000, keys=keys, known=PairCache(5)) == \
        per_layer_mean_distance(strings, "expert", 5000)
