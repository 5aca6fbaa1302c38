"""Sampled pairs: uniform over the group's pairs, a function of the members (not their order), and
stable when a few members come or go (so distances computed before can be reused)."""

from __future__ import annotations

import numpy as np
import pytest

from grokviz.metrics import pair_sample


def _pairs(keys: np.ndarray, i: np.ndarray, j: np.ndarray) -> set[frozenset]:
    return {frozenset(p) for p in zip(keys[i].tolist(), keys[j].tolist())}


@pytest.mark.parametrize(("n", "m"), [(12, 20), (40, 300)], ids=["small", "medium"])
def test_every_pair_is_equally_likely(n, m):
    draws = 2000
    counts = np.zeros((n, n))
    for seed in range(draws):
        i, j = pair_sample.within_pairs(pair_sample.position_keys(n, seed), m)
        np.add.at(counts, (np.minimum(i, j), np.maximum(i, j)), 1)
    per_pair = counts[np.triu_indices(n, k=1)]
    p = m / len(per_pair)
    expected, sd = draws * p, np.sqrt(draws * p * (1 - p))
    assert per_pair.sum() == draws * m
    assert np.abs(per_pair - expected).max() < 5 * sd  # no pair favoured or avoided
    assert abs(per_pair.std() / sd - 1) < 0.2  # spread of a binomial count: no structure either


def test_within_pairs_are_distinct_and_never_self():
    keys = pair_sample.member_keys([f"s{k}" for k in range(500)])
    i, j = pair_sample.within_pairs(keys, 2000)
    assert len(i) == 2000 and (i != j).all() and len(_pairs(keys, i, j)) == 2000


def test_small_groups_give_all_their_pairs():
    i, j = pair_sample.within_pairs(pair_sample.position_keys(10), 100)
    assert len(_pairs(np.arange(10), i, j)) == 45


def test_the_sample_depends_on_the_members_not_their_order():
    keys = pair_sample.member_keys([f"s{k}" for k in range(3000)], seed=4)
    shuffled = keys[np.random.default_rng(0).permutation(len(keys))]
    assert _pairs(keys, *pair_sample.within_pairs(keys, 1000)) == \
        _pairs(shuffled, *pair_sample.within_pairs(shuffled, 1000))


def test_a_few_members_more_or_less_keep_almost_every_pair():
    ids = [f"s{k}" for k in range(10_000)]
    keys = pair_sample.member_keys(ids)
    stay = np.ones(len(ids), dtype=bool)
    stay[np.random.default_rng(1).choice(len(ids), 20, replace=False)] = False
    grown = np.concatenate([keys[stay], pair_sample.member_keys([f"new{k}" for k in range(20)])])
    before = _pairs(keys, *pair_sample.within_pairs(keys, 5000))
    after = _pairs(grown, *pair_sample.within_pairs(grown, 5000))
    assert len(before & after) / 5000 > 0.97


def test_the_seed_changes_the_sample():
    ids = [f"s{k}" for k in range(300)]
    a, b = pair_sample.member_keys(ids, 0), pair_sample.member_keys(ids, 1)
    first = {frozenset((ids[x], ids[y])) for x, y in zip(*pair_sample.within_pairs(a, 500))}
    second = {frozenset((ids[x], ids[y])) for x, y in zip(*pair_sample.within_pairs(b, 500))}
    assert len(first & second) < 100  # 500 of 44,850 pairs: about 6 in common by chance


def test_cross_pairs_are_uniform_distinct_and_stable():
    counts = np.zeros((6, 5))
    for seed in range(2000):
        i, j = pair_sample.cross_pairs(pair_sample.position_keys(6, seed), pair_sample.position_keys(5, seed + 99), 10)
        assert len(set(zip(i.tolist(), j.tolist()))) == 10
        np.add.at(counts, (i, j), 1)
    sd = np.sqrt(2000 * (1 / 3) * (2 / 3))
    assert np.abs(counts - 2000 / 3).max() < 5 * sd
    a = pair_sample.member_keys([f"a{k}" for k in range(2000)])
    b = pair_sample.member_keys([f"b{k}" for k in range(3000)])
    before = {(x, y) for x, y in zip(a[pair_sample.cross_pairs(a, b, 3000)[0]].tolist(),
                                     b[pair_sample.cross_pairs(a, b, 3000)[1]].tolist())}
    i, j = pair_sample.cross_pairs(a[:-5], b, 3000)
    after = set(zip(a[:-5][i].tolist(), b[j].tolist()))
    assert len(before & after) / 3000 > 0.97


def test_bottom_is_a_uniform_and_stable_member_sample():
    hits = np.zeros(20)
    for seed in range(4000):
        hits[pair_sample.bottom(pair_sample.position_keys(20, seed), 5)] += 1
    assert np.abs(hits - 1000).max() < 5 * np.sqrt(4000 * 0.25 * 0.75)
    keys = pair_sample.member_keys([f"s{k}" for k in range(1000)])
    chosen = set(keys[pair_sample.bottom(keys, 100)].tolist())
    assert len(chosen & set(keys[1:][pair_sample.bottom(keys[1:], 100)].tolist())) >= 99


def test_a_zero_budget_is_refused():
    with pytest.raises(ValueError, match="budget"):
        pair_sample.within_pairs(pair_sample.position_keys(5), 0)
