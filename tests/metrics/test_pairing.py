"""Similarity between training and test groups and their one-to-one pairing (METHOD 7)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from grokviz import names
from grokviz.metrics import pairing


def slow_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine over every member pair, with loops."""
    total = 0.0
    for x in a:
        for y in b:
            total += float(x @ y) / (np.linalg.norm(x) * np.linalg.norm(y))
    return total / (len(a) * len(b))


def best_total(values: np.ndarray) -> float:
    """Brute force over every one-to-one assignment of the smaller side."""
    p, q = values.shape
    if p <= q:
        return max(sum(values[i, c] for i, c in enumerate(cols)) for cols in itertools.permutations(range(q), p))
    return best_total(values.T)


def random_embeddings(groups, seed, d=6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {g: rng.normal(size=(rng.integers(1, 6), d)) for g in groups}


def test_similarity_matches_pairwise_loops():
    train = random_embeddings(["Pretrain@5", "Pretrain@125", "Pretrain@245"], seed=1)
    test = random_embeddings(["Test@125", "Test@490"], seed=2)
    sim = pairing.similarity_matrix(train, test)
    assert list(sim.index) == list(train) and list(sim.columns) == list(test)
    for p, q in itertools.product(train, test):
        assert sim.loc[p, q] == pytest.approx(slow_similarity(train[p], test[q]))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)], ids=["square", "wide", "tall"])
@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_assignment_maximises_total_similarity(shape, seed):
    values = np.random.default_rng(seed).uniform(size=shape)
    train = {f"Pretrain@{10 * i}": 10 * i for i in range(shape[0])}
    test = {f"Test@{100 + 7 * j}": 100 + 7 * j for j in range(shape[1])}
    pairs = pairing.pair_groups(pd.DataFrame(values, index=list(train), columns=list(test)), train, test)
    assert len(pairs) == min(shape)
    assert pairs[pairing.TRAIN_GROUP].is_unique and pairs[pairing.TEST_GROUP].is_unique
    assert pairs[pairing.SIMILARITY].sum() == pytest.approx(best_total(values))
    delays = [test[q] - train[p] for p, q in zip(pairs[pairing.TRAIN_GROUP], pairs[pairing.TEST_GROUP])]
    assert pairs[pairing.DELAY].tolist() == delays


def test_paper_math_pairs_and_columns():
    train = {"Pretrain@5k": 5, "Pretrain@125k": 125, "Pretrain@245k": 245, "Pretrain@370k": 370}
    test = {"Test@125k": 125, "Test@490k": 490, "Test@615k": 615, "Test@855k": 855}
    sim = pd.DataFrame(np.eye(4) * 0.5 + 0.2, index=list(train), columns=list(test))
    pairs = pairing.pair_groups(sim, train, test)
    assert tuple(pairs.columns) == names.EXPORT_COLUMNS["pairs"][2:]
    assert pairs[pairing.DELAY].tolist() == [120, 365, 370, 485]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pairing.similarity_matrix({"a": np.zeros((1, 2))}, {"b": np.ones((1, 2))}), "zero"),
        (lambda: pairing.similarity_matrix({"a": np.ones((1, 2))}, {"b": np.ones((1, 3))}), "sizes differ"),
        (lambda: pairing.similarity_matrix({"a": np.ones((0, 2))}, {"b": np.ones((1, 2))}), "n_members"),
        (lambda: pairing.similarity_matrix({}, {"b": np.ones((1, 2))}), "at least one"),
        (lambda: pairing.pair_groups(pd.DataFrame([[np.nan]], index=["a"], columns=["b"]), {"a": 1}, {"b": 2}),
         "finite"),
        (lambda: pairing.pair_groups(pd.DataFrame([[1.0]], index=["a"], columns=["b"]), {}, {"b": 2}), "no step"),
    ],
    ids=["zero-embedding", "size-mismatch", "empty-group", "no-train-groups", "nan-similarity", "missing-step"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
