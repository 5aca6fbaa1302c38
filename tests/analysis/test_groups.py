"""Which samples and items form groups: memorised means t* < T, missing is not wrong (METHOD 5-7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz.analysis import groups
from grokviz.metrics.pairing import pair_groups

STEPS = [100, 200, 300]


def example_memorization(include_last: bool = False) -> pd.DataFrame:
    """METHOD 5's example: a settles at 200, b only at the last checkpoint 300 (eps 1)."""
    samples = pd.DataFrame({"sample_id": ["a", "b"], "group": "math", "split": "train", "text": ["x", "y"]})
    losses = pd.DataFrame({"step": STEPS * 2, "sample_id": ["a"] * 3 + ["b"] * 3,
                           "loss": [3.0, 0.5, 0.5, 3.0, 3.0, 0.5]})
    return groups.memorization("r", samples, losses, STEPS, eps=1.0, delta=0.05, include_last=include_last)


def test_a_sample_settled_only_at_the_last_checkpoint_is_not_memorised():
    table = example_memorization()
    assert table["t_star"].tolist() == [200, 300]
    assert table["memorized"].tolist() == [True, False]
    assert table["pretrain_group"].tolist() == ["math/Pretrain@200", "math/not-memorized"]
    metric_groups = groups.metric_groups(table)
    assert metric_groups["math"].tolist() == ["a"] and "math/Pretrain@300" not in metric_groups


def test_the_old_reading_stays_available():
    table = example_memorization(include_last=True)
    assert table["memorized"].all() and "math/Pretrain@300" in groups.metric_groups(table)


def test_pairing_follows_from_which_groups_exist():
    """S = [[.50, .40], [.60, .45]]: with Pretrain@300 and Test@300 (grokviz 0.1) the assignment pairs
    200 -> 300 and 300 -> 200 (a negative delay); the paper's reading leaves only Pretrain@200 -> Test@200."""
    sim = pd.DataFrame([[0.50, 0.40], [0.60, 0.45]], index=["Pretrain@200", "Pretrain@300"],
                       columns=["Test@200", "Test@300"])
    steps = {"Pretrain@200": 200, "Pretrain@300": 300, "Test@200": 200, "Test@300": 300}
    old = pair_groups(sim, steps, steps)
    assert old["delay"].tolist() == [100, -100]
    train = [g.split("/")[1] for g in groups.metric_groups(example_memorization()) if "/" in g]
    items = groups.generalization("r", pd.DataFrame({"step": STEPS * 2, "group": "math", "split": "test",
                                                     "item_id": ["q1"] * 3 + ["q2"] * 3,
                                                     "correct": [0, 1, 1, 0, 0, 1]}), STEPS)
    test = [g.split("/")[1] for g, ok in zip(items["test_group"], items["generalized"]) if ok]
    new = pair_groups(sim.loc[train, test], steps, steps)
    assert (new["train_group"].tolist(), new["test_group"].tolist(), new["delay"].tolist()) == \
        (["Pretrain@200"], ["Test@200"], [0])


def test_an_item_not_evaluated_at_a_checkpoint_is_missing_there_not_wrong():
    steps = [1, 2, 3, 4, 5]
    rows = [(s, c) for s, c in zip(steps, [0, 1, None, 1, 1]) if c is not None]  # not evaluated at 3
    rows += [(s, 0) for s in steps[:1]]
    accuracy = pd.DataFrame({"step": [s for s, _ in rows[:4]] + [1, 2, 3, 4, 5],
                             "group": "g", "split": "test",
                             "item_id": ["q"] * 4 + ["other"] * 5,
                             "correct": [c for _, c in rows[:4]] + [0, 0, 1, 1, 1]})
    table = groups.generalization("r", accuracy, steps).set_index("item_id")
    # solved from 2 on among the evaluated checkpoints (2, 4, 5): read as wrong at 3 it would be from 4
    assert table.loc["q", "t_hash"] == 2
    series = groups.accuracy_series("r", accuracy, table.reset_index())
    at3 = series[(series["group"] == "g") & (series["step"] == 3)]
    assert at3["accuracy"].item() == 1.0 and at3["n_items"].item() == 1  # the mean of the evaluated item only
    assert np.isnan(groups.correctness_matrix(accuracy, steps)[1][list(table.index).index("q"), 2])
