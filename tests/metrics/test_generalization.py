"""Generalisation step t#, the generalisation table and group accuracy (METHOD 6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grokviz import names
from grokviz.metrics import generalization as gen

FAST = settings(max_examples=50, deadline=None)
STEPS = [125, 245, 370, 490, 615, 735, 855, 980, 1100]


def slow_t_hash(row, steps, min_mean=0.8, max_errors=1) -> int:
    """The definition read literally, one candidate checkpoint at a time."""
    for t in range(len(steps)):
        rest = list(row[t:])
        if row[t] == 1 and sum(rest) / len(rest) > min_mean and rest.count(0) <= max_errors:
            return steps[t]
    return -1


def random_correct(n, n_steps, seed) -> np.ndarray:
    """Items that tend to become solved at a random checkpoint, with some flips."""
    rng = np.random.default_rng(seed)
    onset = rng.integers(0, n_steps + 2, size=(n, 1))
    correct = (np.arange(n_steps) >= onset).astype(int)  # (n, n_steps)
    flips = rng.random((n, n_steps)) < 0.12
    return np.where(flips, 1 - correct, correct)


@pytest.mark.parametrize(
    ("min_mean", "max_errors"), [(0.8, 1), (0.5, 2), (0.9, 0)], ids=["paper", "lenient", "strict"]
)
def test_steps_match_reference(min_mean, max_errors):
    correct = random_correct(300, len(STEPS), seed=1)
    expected = [slow_t_hash(list(row), STEPS, min_mean, max_errors) for row in correct]
    assert gen.generalisation_steps(correct, STEPS, min_mean, max_errors).tolist() == expected


@FAST
@given(hnp.arrays(np.int64, (5, 7), elements=st.integers(0, 1)))
def test_any_correctness_matches_reference(correct):
    steps = STEPS[:7]
    assert gen.generalisation_steps(correct, steps).tolist() == [slow_t_hash(list(r), steps) for r in correct]


def test_one_late_error_is_tolerated_only_with_enough_checkpoints():
    assert gen.generalisation_steps([[1, 1, 1, 1, 0, 1]], range(6)).tolist() == [0]  # 5/6 > 0.8
    assert gen.generalisation_steps([[1, 1, 1, 0, 1]], range(5)).tolist() == [4]  # 4/5 is not


def test_table_and_labels():
    correct = random_correct(12, len(STEPS), seed=2)
    table = gen.generalization_table([f"q{i}" for i in range(12)], ["math"] * 12, correct, STEPS)
    assert tuple(table.columns) == names.EXPORT_COLUMNS["generalization"][1:]
    assert table[gen.T_HASH].tolist() == gen.generalisation_steps(correct, STEPS).tolist()
    assert [gen.test_group(t) for t in (125000, -1)] == ["Test@125000", "never"]


def test_group_accuracy_matches_loops():
    correct = random_correct(30, len(STEPS), seed=3)
    labels = [("a", "b", "c")[i % 3] for i in range(30)]
    table = gen.group_accuracy(correct, STEPS, labels)
    assert len(table) == 3 * len(STEPS)
    for row in table.itertuples(index=False):
        members = [correct[i][STEPS.index(row.step)] for i in range(30) if labels[i] == row.group]
        assert row.accuracy == pytest.approx(sum(members) / len(members))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gen.generalisation_steps([[0, 2]], [1, 2]), "only 0, 1 and NaN"),
        (lambda: gen.generalisation_steps([[0, 1]], [2, 1]), "ascending"),
        (lambda: gen.generalisation_steps([[0, 1]], [1]), "one step per"),
        (lambda: gen.generalization_table(["a"], [], [[0, 1]], [1, 2]), "one item_id"),
        (lambda: gen.group_accuracy([[0, 1]], [1, 2], ["a", "b"]), "one label"),
    ],
    ids=["not-binary", "steps-order", "steps-length", "groups-length", "labels-length"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
