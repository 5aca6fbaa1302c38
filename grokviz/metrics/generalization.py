"""Generalisation step t# of test items, Test@t# groups and group accuracy (METHOD 6).

t#_j is the earliest checkpoint t at which item j is correct, its mean correctness over
[t, T] exceeds `min_mean` (0.8) and it has at most `max_errors` (1) errors after t; items
that never meet this get names.NEVER_MEMORIZED (-1). Correctness is a 0/1 matrix of shape
(n_items, n_steps), one column per checkpoint in ascending step order; NaN marks a checkpoint
where the item was not evaluated: missing there, not wrong (the mean and the error count run
over the evaluated checkpoints only).

This module never evaluates a model; it only reads correctness that was computed or imported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.memorization import check_step_matrix

T_HASH = "t_hash"  # as in names.EXPORT_COLUMNS["generalization"]
ACCURACY = "accuracy"
NEVER_GROUP = "never"


def _check_correct(correct: np.ndarray, steps: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Correctness as float64 0/1/NaN (n_items, n_steps) and steps as strictly ascending ints."""
    values, steps_arr = check_step_matrix(correct, steps, "correct", "n_items", "correctness")
    if not np.all((values == 0) | (values == 1) | np.isnan(values)):
        raise ValueError("correct must hold only 0, 1 and NaN (not evaluated)")
    return values, steps_arr


def generalisation_steps(
    correct: np.ndarray, steps: Sequence[int], min_mean: float = 0.8, max_errors: int = 1
) -> np.ndarray:
    """t# per item: a step value, or names.NEVER_MEMORIZED (-1). Shape (n_items,).

    >>> correct = np.array([[0, 1, 1, 1, 1, 1, 1],    # solved from 200 on
    ...                     [1, 0, 1, 1, 0, 1, 1],    # one error after 300: mean 4/5 is not > 0.8
    ...                     [1, 1, 0, 1, 1, 1, 1]])   # one error after 100: 6/7 > 0.8
    >>> generalisation_steps(correct, [100, 200, 300, 400, 500, 600, 700]).tolist()
    [200, 600, 100]
    >>> generalisation_steps([[0, 1, np.nan, 1, 1]], [1, 2, 3, 4, 5]).tolist()  # not evaluated at 3
    [2]
    """
    values, steps_arr = _check_correct(correct, steps)
    n_steps = len(steps_arr)
    evaluated = ~np.isnan(values)  # (n, n_steps)
    solved_after = np.cumsum((values == 1)[:, ::-1], axis=1)[:, ::-1]  # (n, n_steps): solved in [t, T]
    known_after = np.cumsum(evaluated[:, ::-1], axis=1)[:, ::-1]  # evaluated in [t, T]
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (
            (values == 1)
            & (solved_after / known_after > min_mean)
            & (known_after - solved_after <= max_errors)
        )  # (n, n_steps)
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), n_steps)
    return np.append(steps_arr, names.NEVER_MEMORIZED)[first]


def test_group(t_hash: int) -> str:
    """Group label of a generalisation step: "Test@{step}", or "never".

    >>> test_group(125000), test_group(-1)
    ('Test@125000', 'never')
    """
    return NEVER_GROUP if t_hash == names.NEVER_MEMORIZED else names.TEST_GROUP.format(step=int(t_hash))


test_group.__test__ = False  # a label builder, not a test, despite its name


def generalization_table(
    item_ids: Sequence,
    groups: Sequence[str],
    correct: np.ndarray,
    steps: Sequence[int],
    min_mean: float = 0.8,
    max_errors: int = 1,
) -> pd.DataFrame:
    """One row per test item: item_id, group, t_hash.

    >>> generalization_table(["q1", "q2"], ["math", "math"], [[0, 1, 1], [1, 0, 0]], [10, 20, 30])
      item_id group  t_hash
    0      q1  math      20
    1      q2  math      -1
    """
    values, steps_arr = _check_correct(correct, steps)
    if len(item_ids) != len(values) or len(groups) != len(values):
        raise ValueError(
            f"need one item_id and group per row ({len(values)}), got {len(item_ids)} and {len(groups)}"
        )
    t_hash = generalisation_steps(values, steps_arr, min_mean, max_errors)
    return pd.DataFrame({names.ITEM_ID: list(item_ids), names.GROUP: list(groups), T_HASH: t_hash})


def group_accuracy(correct: np.ndarray, steps: Sequence[int], labels: Sequence[str]) -> pd.DataFrame:
    """Mean correctness per group (label) and checkpoint, long format: group, step, accuracy.

    >>> group_accuracy([[0, 1], [1, 1], [0, 0]], [10, 20], ["a", "a", "b"])
      group  step  accuracy
    0     a    10       0.5
    1     a    20       1.0
    2     b    10       0.0
    3     b    20       0.0
    """
    values, steps_arr = _check_correct(correct, steps)
    label_arr = np.asarray(labels, dtype=object)
    if len(label_arr) != len(values):
        raise ValueError(f"need one label per row ({len(values)}), got {len(label_arr)}")
    rows = []
    for label in pd.unique(label_arr):
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a checkpoint where no item was evaluated
            accuracy = np.nanmean(values[label_arr == label], axis=0)  # (n_steps,), missing items left out
        rows.append(pd.DataFrame({names.GROUP: label, names.STEP: steps_arr, ACCURACY: accuracy}))
    if not rows:
        return pd.DataFrame({names.GROUP: [], names.STEP: [], ACCURACY: []})
    return pd.concat(rows, ignore_index=True)
