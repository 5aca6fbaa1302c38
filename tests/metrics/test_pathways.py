"""Pathways (METHOD 2) against a plain-loop reference, plus the hand-worked example."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grokviz.metrics import pathways

FAST = settings(max_examples=40, deadline=None)


def slow_layer(weights, tau, top_k) -> list[int]:
    """Obviously correct: sort by (-weight, id), add weights one by one until > tau."""
    ranked = sorted(range(len(weights)), key=lambda e: (-float(weights[e]), e))
    if top_k is not None:
        return ranked[:top_k]
    kept, total = [], 0.0
    for expert in ranked:
        kept.append(expert)
        total += float(weights[expert])
        if total > tau:
            break
    return kept


def slow_pathway(sample, tau, top_k) -> str:
    return "-".join(",".join(str(e) for e in slow_layer(layer, tau, top_k)) for layer in sample)


def test_method_example_three_layers():
    dist = np.array([[[0.05, 0.30, 0.10, 0.55], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.9, 0.1]]])
    assert pathways.pathway_strings(dist, tau=0.7) == ["3,1-0,1,2-2"]
    assert pathways.layer_experts(dist, tau=0.7) == [[(3, 1), (0, 1, 2), (2,)]]
    assert pathways.n_kept(dist, tau=0.7).tolist() == [6]


def test_crossing_expert_is_kept_and_equality_does_not_cross():
    dist = np.array([[[0.5, 0.25, 0.25]]])  # 0.5 + 0.25 == 0.75 exactly
    assert pathways.pathway_strings(dist, tau=0.75) == ["0,1,2"]  # 0.75 is not > 0.75
    assert pathways.pathway_strings(dist, tau=0.5) == ["0,1"]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=["float16", "float32", "float64"])
@pytest.mark.parametrize(
    ("tau", "top_k"), [(0.5, None), (0.7, None), (0.8, None), (None, 1), (None, 3)],
    ids=["tau0.5", "tau0.7", "tau0.8", "top1", "top3"],
)
@pytest.mark.parametrize("ties", [False, True], ids=["no-ties", "ties"])
def test_pathway_strings_match_reference(dist_factory, dtype, tau, top_k, ties):
    dist = dist_factory(60, 5, 12, seed=3, dtype=dtype, ties=ties)
    expected = [slow_pathway(sample, tau, top_k) for sample in dist]
    assert pathways.pathway_strings(dist, tau=tau, top_k=top_k) == expected


def test_many_blocks_and_two_digit_ids_match_reference(dist_factory):
    dist = dist_factory(pathways._BLOCK * 2 + 17, 3, 70, seed=1, dtype=np.float32)
    got = pathways.pathway_strings(dist, tau=0.7)
    assert len(got) == len(dist)
    for i in [0, 1, pathways._BLOCK - 1, pathways._BLOCK, len(dist) - 1]:
        assert got[i] == slow_pathway(dist[i], 0.7, None)


def test_layer_strings_join_to_pathways_and_counts_agree(dist_factory):
    dist = dist_factory(40, 4, 10, seed=2)
    table = pathways.layer_strings(dist, tau=0.7)
    assert table.shape == (40, 4) and table.dtype == object
    assert ["-".join(row) for row in table] == pathways.pathway_strings(dist, tau=0.7)
    counts = [sum(len(s.split(",")) for s in row) for row in table]
    assert pathways.n_kept(dist, tau=0.7).tolist() == counts


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("ties", [False, True], ids=["no-ties", "ties"])
def test_visit_sees_the_renormalised_kept_weights_of_the_reference(dist_factory, dtype, ties):
    dist = dist_factory(pathways._BLOCK + 9, 3, 12, seed=6, dtype=dtype, ties=ties)  # two blocks
    seen = {}
    strings, layers, kept = pathways.pathway_parts(dist, tau=0.7, visit=lambda start, w: seen.update({start: w}))
    assert strings == pathways.pathway_strings(dist, tau=0.7)
    assert sorted(seen) == [0, pathways._BLOCK]
    weights = np.concatenate([seen[0], seen[pathways._BLOCK]])
    assert weights.dtype == np.float32 and weights.shape == dist.shape
    for i in (0, pathways._BLOCK - 1, pathways._BLOCK, len(dist) - 1):
        for layer in range(3):
            row = np.zeros(12, dtype=np.float32)
            chosen = slow_layer(dist[i, layer], 0.7, None)
            row[chosen] = dist[i, layer, chosen]
            assert np.array_equal(weights[i, layer], row / row.sum())  # summed in expert-id order: same bits


def test_layer_experts_match_reference(dist_factory):
    dist = dist_factory(20, 3, 8, seed=4, ties=True)
    expected = [[tuple(slow_layer(layer, 0.7, None)) for layer in sample] for sample in dist]
    assert pathways.layer_experts(dist, tau=0.7) == expected


def test_ranked_experts_order_and_counts(dist_factory):
    dist = dist_factory(10, 2, 6, seed=5, ties=True)
    order, counts = pathways.ranked_experts(dist, tau=0.6)
    for i, sample in enumerate(dist):
        for layer, weights in enumerate(sample):
            assert order[i, layer].tolist() == sorted(range(6), key=lambda e: (-weights[e], e))
            assert counts[i, layer] == len(slow_layer(weights, 0.6, None))


def test_negative_zero_weights_rank_as_zero():
    dist = np.array([[[-0.0, 0.0, 1.0]]], dtype=np.float32)
    assert pathways.pathway_strings(dist, tau=None, top_k=3) == ["2,0,1"]


def test_tau_never_exceeded_keeps_every_expert():
    dist = np.array([[[0.25, 0.25, 0.25, 0.25]]])
    assert pathways.pathway_strings(dist, tau=1.0) == ["0,1,2,3"]


def test_empty_input_gives_empty_outputs():
    dist = np.zeros((0, 3, 4))
    assert pathways.pathway_strings(dist) == []
    assert pathways.layer_strings(dist).shape == (0, 3)
    assert pathways.n_kept(dist).shape == (0,)


def test_topk_pathway_strings_keep_given_order():
    ids = np.array([[[12, 3], [0, 63]]])
    assert pathways.topk_pathway_strings(ids) == ["12,3-0,63"]


@pytest.mark.parametrize(
    ("dist", "kwargs", "message"),
    [
        (np.ones((2, 3)), {}, "shape"),
        (np.ones((1, 2, 3)) / 3, {"tau": 0.7, "top_k": 2}, "exactly one"),
        (np.ones((1, 2, 3)) / 3, {"tau": None, "top_k": None}, "exactly one"),
        (np.ones((1, 2, 3)) / 3, {"tau": 1.5}, "tau"),
        (np.ones((1, 2, 3)) / 3, {"tau": None, "top_k": 4}, "top_k"),
        (-np.ones((1, 2, 3)), {}, "non-negative"),
        (np.full((1, 2, 3), np.nan), {}, "finite"),
    ],
    ids=["2d", "both-rules", "no-rule", "tau-above-1", "top-k-above-E", "negative", "nan"],
)
def test_bad_input_raises(dist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pathways.pathway_strings(dist, **kwargs)


@FAST
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=3, max_dims=3, max_side=6),
               elements=st.floats(0, 1, allow_subnormal=False)),
    st.floats(0, 1),
)
def test_any_weights_match_reference(dist, tau):
    assert pathways.pathway_strings(dist, tau=tau) == [slow_pathway(s, tau, None) for s in dist]


@pytest.mark.parametrize("rule", [dict(tau=0.7), dict(tau=0.3), dict(tau=None, top_k=2)], ids=["tau0.7", "tau0.3", "top2"])
def test_one_pass_parts_equal_the_separate_functions(rule):
    """`pathway_parts` ranks once and equals `pathway_strings`, `layer_strings` and `n_kept`."""
    rng = np.random.default_rng(5)
    dist = rng.dirichlet(np.full(12, 0.4), size=(700, 5)).astype(np.float32)  # more than one block
    dist[3, 2] = 1 / 12  # a tie in one layer
    strings, layers, kept = pathways.pathway_parts(dist, **rule)
    assert strings == pathways.pathway_strings(dist, **rule)
    assert layers.tolist() == pathways.layer_strings(dist, **rule).tolist()
    assert kept.tolist() == pathways.n_kept(dist, **rule).tolist()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16], ids=["f32", "f64", "f16"])
@pytest.mark.parametrize("rule", [{"tau": 0.7}, {"tau": 0.0}, {"tau": 1.0}, {"tau": None, "top_k": 3}],
                         ids=["tau0.7", "tau0", "tau1", "top3"])
def test_kept_mask_is_rank_below_the_kept_count(dist_factory, dtype, rule):
    dist = dist_factory(300, 4, 9, seed=5, dtype=dtype, ties=True)
    order, counts = pathways.ranked_experts(dist, **rule)
    rank = np.argsort(order, axis=-1)  # rank of each expert id
    assert (pathways.kept_mask(dist, **rule) == (rank < counts[..., None])).all()
