"""Routing health (METHOD 10) against plain-loop references over tokens and layers."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from grokviz import names
from grokviz.metrics import health

N_EXPERTS = 8


def random_topk(n_tokens, n_layers=3, k=3, seed=0, n_used=N_EXPERTS) -> np.ndarray:
    """Distinct expert ids in [0, n_used) per token and layer, rank 0 first."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n_tokens, n_layers, n_used)), axis=-1)[..., :k]


@pytest.mark.parametrize("top_k", [1, 2, 3], ids=["top1", "top2", "top3"])
def test_saturation_matches_set_overlap_loop(top_k):
    now, ref = random_topk(50, seed=1), random_topk(50, seed=2)
    ref[:20] = now[:20]  # some tokens already routed as at the reference
    expected = [
        sum(len(set(now[i, l, :top_k]) & set(ref[i, l, :top_k])) for i in range(50)) / (50 * top_k)
        for l in range(3)
    ]
    np.testing.assert_allclose(health.saturation(now, ref, top_k), expected)


def test_saturation_against_itself_is_one():
    topk = random_topk(10, seed=3)
    assert health.saturation(topk, topk, top_k=3).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("block", [2, 4096], ids=["block2", "block4096"])
def test_coactivation_matches_pair_counting_loop(monkeypatch, block):
    monkeypatch.setattr(health, "_BLOCK", block)
    topk = random_topk(40, seed=4, n_used=N_EXPERTS - 1)  # expert 7 is never chosen
    got = health.coactivation(topk, N_EXPERTS)
    for l in range(3):
        chosen = Counter(e for i in range(40) for e in topk[i, l])
        both = Counter((a, b) for i in range(40) for a in topk[i, l] for b in topk[i, l] if a != b)
        for a in range(N_EXPERTS):
            for b in range(N_EXPERTS):
                if chosen[a] == 0:
                    assert math.isnan(got[l, a, b])
                else:
                    assert got[l, a, b] == pytest.approx(both[(a, b)] / chosen[a])


def test_routing_entropy_and_topk_mass_match_loops(dist_factory):
    probs = dist_factory(6, 3, N_EXPERTS, seed=5)
    probs[0, 0] = [1.0] + [0.0] * (N_EXPERTS - 1)
    entropy = health.routing_entropy(probs)
    mass = health.topk_mass(probs, top_k=2)
    for i in range(6):
        for l in range(3):
            p = list(probs[i, l])
            assert entropy[i, l] == pytest.approx(-sum(x * math.log(x) for x in p if x > 0))
            assert mass[i, l] == pytest.approx(sum(sorted(p, reverse=True)[:2]))
    assert entropy[0, 0] == 0.0


@pytest.mark.parametrize("block", [3, 4096], ids=["block3", "block4096"])
def test_expert_load_matches_counter(monkeypatch, block):
    monkeypatch.setattr(health, "_BLOCK", block)
    topk = random_topk(25, seed=6)
    load = health.expert_load(topk, N_EXPERTS)
    for l in range(3):
        counts = Counter(topk[:, l].ravel().tolist())
        assert load[l].tolist() == pytest.approx([counts[e] / (25 * 3) for e in range(N_EXPERTS)])
    np.testing.assert_allclose(load.sum(axis=1), 1.0)


def test_load_cv_matches_formula():
    load = np.array([[0.5, 0.25, 0.25, 0.0], [0.25] * 4, [0.0] * 4])
    mean = 0.25
    std = math.sqrt(sum((x - mean) ** 2 for x in load[0]) / 4)
    got = health.load_cv(load)
    assert got[0] == pytest.approx(std / mean) and got[1] == 0.0 and math.isnan(got[2])


@pytest.mark.parametrize("block", [4, 4096], ids=["block4", "block4096"])
def test_specialisation_matches_loops(monkeypatch, block):
    monkeypatch.setattr(health, "_BLOCK", block)
    topk = random_topk(30, seed=7)
    labels = [("math", "code", "books")[i % 3] for i in range(30)]
    table = health.specialisation(topk, labels, N_EXPERTS)
    assert list(table.columns) == [health.LABEL, names.LAYER, names.EXPERT, health.SHARE,
                                   health.UNIFORM_SHARE, health.RATIO]
    assert len(table) == 3 * 3 * N_EXPERTS
    for row in table.sample(25, random_state=0).itertuples(index=False):
        members = [i for i in range(30) if labels[i] == row.label]
        share = sum(row.expert in topk[i, row.layer] for i in members) / len(members)
        assert row.share == pytest.approx(share)
        assert row.uniform_share == 3 / N_EXPERTS
        assert row.ratio == pytest.approx(share / (3 / N_EXPERTS))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: health.expert_load(np.array([[[0, 0]]]), 4), "distinct"),
        (lambda: health.expert_load(np.array([[[0, 9]]]), 4), r"\[0, 4\)"),
        (lambda: health.expert_load(np.array([[0, 1]]), 4), "shape"),
        (lambda: health.saturation(random_topk(3), random_topk(4), 1), "same tokens"),
        (lambda: health.saturation(random_topk(3), random_topk(3), 4), "top_k"),
        (lambda: health.topk_mass(np.ones((1, 1, 2)), 3), "top_k"),
        (lambda: health.specialisation(random_topk(3), ["a"], N_EXPERTS), "one label"),
        (lambda: health.load_cv(np.ones(3)), "shape"),
    ],
    ids=["duplicate-ids", "id-out-of-range", "2d-topk", "token-mismatch", "top-k-too-big",
         "mass-top-k-too-big", "labels-length", "1d-load"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
