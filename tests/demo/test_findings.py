"""Per-task findings of a demo run, from hand-made tables whose answers are known."""

from __future__ import annotations

import pandas as pd

from grokviz.demo.findings import COLUMNS, findings, milestones, to_markdown

STEPS = [0, 10, 20, 30, 40, 50, 60, 70]


def accuracy_table(train: dict[str, list[float]], test: dict[str, list[float]], n_items: int = 20) -> pd.DataFrame:
    """Per-item correctness whose per-step mean is exactly the given curve."""
    rows = []
    for split, curves in (("train", train), ("test", test)):
        for task, curve in curves.items():
            for step, acc in zip(STEPS, curve):
                right = round(acc * n_items)
                rows += [{"run": "r", "step": step, "group": task, "split": split, "item_id": f"{task}-{split}-{i}",
                          "correct": int(i < right)} for i in range(n_items)]
    return pd.DataFrame(rows)


def test_milestones_follow_the_curves():
    acc = accuracy_table(train={"a": [0, 0.5, 1, 1, 1, 1, 1, 1], "b": [0, 0.5, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95]},
                         test={"a": [0, 0.1, 0.2, 0.3, 0.5, 0.8, 0.95, 1], "b": [0, 0, 0, 0, 0, 0, 0, 0.05]})
    table = milestones(acc).set_index("task")
    assert table.loc["a", "memorized_at"] == 20 and table.loc["a", "generalised_at"] == 60
    assert table.loc["a", "checkpoints_between"] == 4  # 20, 30, 40, 50
    assert pd.isna(table.loc["b", "memorized_at"]) and pd.isna(table.loc["b", "generalised_at"])
    assert table.loc["b", "final_heldout"] == 0.05


def test_findings_take_each_task_own_correlations_and_strongest_pair():
    acc = accuracy_table(train={"a": [1] * 8}, test={"a": [0, 0, 0.2, 0.4, 0.6, 0.8, 1, 1]})
    memorization = pd.DataFrame({"run": "r", "sample_id": ["x", "y", "z"], "group": "a", "t_star": [10, 20, -1]})  # -1: never memorised
    pairs = pd.DataFrame({"run": "r", "domain": "a", "train_group": ["a/Pretrain@10", "a/Pretrain@20"],
                          "test_group": ["a/Test@50", "a/Test@60"], "similarity": [0.4, 0.9], "delay": [40, 40]})
    rows = []
    for group in ("a", "a/Pretrain@10"):  # the per-pair row must not be taken for the task's own
        for metric, r in (("distance", -0.8), ("consistency", 0.6), ("training_loss", -0.1), ("mean_cosine", 0.3)):
            rows.append({"run": "r", "domain": "a", "group": group, "accuracy_group": "a", "metric": metric,
                         "pearson": r if group == "a" else 0.0, "spearman": r / 2, "pearson_vs_step": 0.5})
    table = findings(acc, memorization, pairs, pd.DataFrame(rows))
    assert list(table.columns) == COLUMNS
    row = table.iloc[0]
    assert row["median_t_star"] == 15 and row["pair"] == "a/Pretrain@20 -> a/Test@60" and row["pair_delay"] == 40
    assert row["distance_pearson"] == -0.8 and row["consistency_spearman"] == 0.3 and row["training_loss_vs_step"] == 0.5
    assert row["mean_cosine_pearson"] == 0.3
    text = to_markdown(table)
    assert text.splitlines()[0].startswith("| task | memorized_at | generalised_at")
    assert "| a | 0 | 60 | 6 | 1.00 | 15.00 |" in text
