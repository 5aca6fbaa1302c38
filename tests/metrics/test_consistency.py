"""Pathway consistency (METHOD 4) by hand and against a plain-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grokviz.metrics import consistency as cons


def slow_consistency(dist, weights) -> tuple[list[float], list[float]]:
    """Loops over samples, layers, experts and dimensions; the paper's formula verbatim."""
    c_out, mean_out = [], []
    for sample in dist:
        emb = []
        for layer, g in enumerate(sample):
            w = weights[layer]
            emb.append([sum(g[k] * w[k][j] for k in range(len(g))) for j in range(len(w[0]))])
        cos = []
        for a, b in zip(emb[:-1], emb[1:]):
            dot = sum(x * y for x, y in zip(a, b))
            cos.append(dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))))
        top = max(cos)
        c_out.append(1 - sum(c / (top + 1e-8) for c in cos) / len(cos))
        mean_out.append(sum(cos) / len(cos))
    return c_out, mean_out


def test_hand_computed_three_layers():
    # W_0 = I, W_1 = swap, W_2 = [[1, 1], [0, 1]]; g = (1, 0), (0, 1), (0.5, 0.5).
    weights = [np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [0.0, 1.0]])]
    g = np.array([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]])
    # e_0 = (1, 0), e_1 = (1, 0), e_2 = (0.5, 1): c_0 = 1, c_1 = 0.5 / sqrt(1.25)
    c1 = 0.5 / math.sqrt(1.25)
    c, mean_cos = cons.consistency(g, weights)
    assert cons.layer_cosines(g, weights)[0].tolist() == pytest.approx([1.0, c1])
    assert c[0] == pytest.approx(1 - (1 / (1 + 1e-8) + c1 / (1 + 1e-8)) / 2, abs=1e-15)
    assert mean_cos[0] == pytest.approx((1 + c1) / 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("block", [1, 4, 256], ids=["block1", "block4", "block256"])
def test_random_inputs_match_reference(dist_factory, dtype, block):
    dist = dist_factory(9, 4, 5, seed=1, dtype=dtype)
    weights = np.random.default_rng(2).normal(size=(4, 5, 3)).astype(dtype)
    expected_c, expected_mean = slow_consistency(dist.astype(np.float64), weights.astype(np.float64))
    c, mean_cos = cons.consistency(dist, weights, block=block)
    np.testing.assert_allclose(c, expected_c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean_cos, expected_mean, rtol=1e-10, atol=1e-12)


def test_list_and_stacked_weights_agree(dist_factory):
    dist = dist_factory(5, 3, 4, seed=3)
    weights = np.random.default_rng(4).normal(size=(3, 4, 6))
    for got, want in zip(cons.consistency(dist, list(weights)), cons.consistency(dist, weights)):
        np.testing.assert_array_equal(got, want)


def test_zero_embedding_gives_nan():
    g = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    weights = [np.eye(2), np.array([[1.0, 0.0], [0.0, 0.0]])]  # layer 1 maps expert 1 to zero
    c, mean_cos = cons.consistency(g, weights)
    assert np.isnan(c[0]) and np.isnan(mean_cos[0])


def test_two_layers_give_zero_consistency_for_positive_cosine():
    g = np.array([[[0.6, 0.4], [0.3, 0.7]]])
    c, _ = cons.consistency(g, [np.eye(2), np.eye(2)])
    assert c[0] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize(
    ("dist", "weights", "message"),
    [
        (np.ones((2, 1, 3)), np.ones((1, 3, 2)), "at least 2 layers"),
        (np.ones((2, 3)), np.ones((3, 3, 2)), "shape"),
        (np.ones((2, 3, 4)), np.ones((3, 5, 2)), "router_weights"),
        (np.ones((2, 3, 4)), [np.ones((4, 2)), np.ones((4, 3)), np.ones((4, 2))], "one shape"),
    ],
    ids=["one-layer", "2d-dist", "expert-mismatch", "ragged-weights"],
)
def test_bad_input_raises(dist, weights, message):
    with pytest.raises(ValueError, match=message):
        cons.consistency(dist, weights)


# --- options (METHOD 4) ---------------------------------------------------------------------------
METHOD_G = np.array([[[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]])  # 1 sample, 3 layers, 3 experts


def test_full_weights_follow_the_formula_as_written():
    c, _ = cons.consistency(METHOD_G, [np.eye(3)] * 3)
    assert c[0] == pytest.approx(0.118, abs=5e-4)


def test_selected_experts_only():
    selected = cons.selected_weights(METHOD_G, tau=0.7)
    assert selected.tolist() == [[[0.5, 0.3, 0.0], [0.0, 0.3, 0.5], [0.0, 0.3, 0.5]]]
    c, _ = cons.consistency(selected, [np.eye(3)] * 3)
    assert c[0] == pytest.approx(0.368, abs=5e-4)
    renormalised = selected / selected.sum(axis=2, keepdims=True)  # a cosine ignores each layer's scale
    np.testing.assert_allclose(cons.consistency(renormalised, [np.eye(3)] * 3)[0], c)


def slow_per_token_cosines(rows, experts, weights, n_rows, router):
    """Reference: loop over tokens and layers, e_l = sum_k w_k W_l[e_k], cosines averaged per sample."""
    sums, counts = np.zeros((n_rows, experts.shape[1] - 1)), np.zeros(n_rows)
    for t, row in enumerate(rows):
        emb = [sum(w * router[layer][e] for e, w in zip(experts[t, layer], weights[t, layer]))
               for layer in range(experts.shape[1])]
        for layer in range(len(emb) - 1):
            a, b = emb[layer], emb[layer + 1]
            sums[row, layer] += a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        counts[row] += 1
    return sums / counts[:, None]


def test_per_token_cosines_match_a_slow_reference():
    rng = np.random.default_rng(0)
    n_tokens, layers, experts_n, k, d = 30, 4, 6, 2, 5
    experts = np.stack([np.stack([rng.choice(experts_n, k, replace=False) for _ in range(layers)])
                        for _ in range(n_tokens)])
    weights = rng.uniform(0.05, 0.5, (n_tokens, layers, k))
    rows = np.sort(rng.integers(0, 3, n_tokens))
    router = rng.normal(size=(layers, experts_n, d))
    np.testing.assert_allclose(cons.per_token_cosines(rows, experts, weights, 3, router, experts_n),
                               slow_per_token_cosines(rows, experts, weights, 3, router), atol=1e-12)


def test_topk_distribution_averages_the_sparse_topk_over_tokens():
    experts = np.array([[[0, 1]], [[1, 2]]])  # 2 tokens of sample 0, 1 layer, top-2
    weights = np.array([[[0.5, 0.2]], [[0.4, 0.4]]])
    got = cons.topk_distribution(np.array([0, 0]), experts, weights, 2, 3)
    np.testing.assert_allclose(got[0], [[0.25, 0.3, 0.2]])
    assert np.isnan(got[1]).all()  # a sample without tokens has no value
