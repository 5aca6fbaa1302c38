"""Per-checkpoint group metrics and correlations: per-layer distances, loss baseline, specificity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from grokviz.analysis import correlate, pathway_stats
from grokviz.metrics.distance import mean_pairwise_distance


def test_per_layer_distance_for_pretrain_groups_at_its_own_level():
    """Layer strings "10,11" vs "1,2": 3 characters apart, but 2 experts: the per-layer level is
    expert by default (the paper's Fig. 5 magnitudes), the whole-pathway one stays char."""
    pathways = pd.DataFrame({"sample_id": ["a", "b"], "pathway": ["10,11-3", "1,2-3"], "consistency": 0.0,
                             "mean_cosine": 0.0, "loss": 0.0})
    groups = {"math": np.array(["a", "b"]), "math/Pretrain@200": np.array(["a", "b"])}
    rows = pd.DataFrame(pathway_stats.group_metrics(200, pathways, 2, groups, "char", None, 0,
                                                    layer_labels=[0, 2]))
    by = rows.set_index(["group", "metric"])["value"]
    assert by["math/Pretrain@200", "distance_layer_0"] == 2.0  # expert level
    assert by["math/Pretrain@200", "distance_layer_2"] == 0.0  # named by the decoder-layer index
    assert by["math/Pretrain@200", "distance"] == mean_pairwise_distance(["10,11-3", "1,2-3"], "char").value == 3
    char = pd.DataFrame(pathway_stats.group_metrics(200, pathways, 2, groups, "char", None, 0, "char"))
    assert char.set_index(["group", "metric"])["value"]["math", "distance_layer_0"] == 3.0


def loss_inputs():
    steps = [1, 2, 3, 4]
    samples = pd.DataFrame({"sample_id": ["m", "u", "v"], "group": "math", "split": ["train", "train", "validation"]})
    losses = pd.DataFrame({"step": steps * 3, "sample_id": ["m"] * 4 + ["u"] * 4 + ["v"] * 4,
                           "loss": [1.0, 0.5, 0.5, 0.5] + [3.0, 2.0, 3.0, 1.0] + [2.0] * 4})
    metrics = pd.DataFrame({"step": steps, "group": "math", "metric": "loss", "value": [1.0, 0.5, 0.5, 0.5]})
    metrics = pd.concat([metrics, metrics.assign(metric="distance", value=[4.0, 3.0, 2.0, 1.0])])
    acc = pd.DataFrame({"step": steps, "group": "math", "split": "test", "accuracy": [0.0, 0.2, 0.6, 0.9]})
    return steps, samples, losses, metrics, acc


def test_the_training_loss_baseline_covers_every_training_sample_by_default():
    steps, samples, losses, metrics, acc = loss_inputs()
    np.testing.assert_allclose(correlate.training_loss(losses, samples, "math", steps), [2.0, 1.25, 1.75, 0.75])
    table = correlate.domain_tables("r", metrics, acc, losses, samples, pd.DataFrame(columns=["domain"]), steps,
                                    None, loss_window=2).set_index("metric")
    memorised = correlate.domain_tables("r", metrics, acc, losses, samples, pd.DataFrame(columns=["domain"]),
                                        steps, None, loss_baseline="memorized").set_index("metric")
    assert table.loc["training_loss", "pearson"] != pytest.approx(memorised.loc["training_loss", "pearson"])
    assert "training_loss_ma2" in table.index and "training_loss_ma3" in memorised.index
    index = correlate.domain_tables("r", metrics, acc, losses, samples, pd.DataFrame(columns=["domain"]), steps,
                                    None, control="index").set_index("metric")
    assert index.loc["distance", "pearson_vs_step"] == pytest.approx(-1.0)  # ordinals: evenly spaced


def test_specificity_across_the_pairs_of_one_domain_shares_the_own_window():
    steps = list(range(1, 11))
    early = np.r_[np.zeros(3), np.ones(7)]  # Test@4 solved early, Test@8 late
    late = np.r_[np.zeros(7), np.ones(3)]
    acc = pd.concat([pd.DataFrame({"step": steps, "group": g, "split": "test", "accuracy": a})
                     for g, a in (("math/Test@4", early), ("math/Test@8", late))])
    metrics = pd.concat([pd.DataFrame({"step": steps, "group": g, "metric": m, "value": v})
                         for g, v in (("math/Pretrain@2", 5 - 4 * early), ("math/Pretrain@6", 5 - 4 * late))
                         for m in correlate.PATHWAY_METRICS])
    pairs = pd.DataFrame({"domain": "math", "train_group": ["math/Pretrain@2", "math/Pretrain@6"],
                          "test_group": ["math/Test@4", "math/Test@8"]})
    table = correlate.cross_table("r", metrics, acc, steps, "auto", pairs)
    distance = table[table["metric"] == "distance"].set_index(["metric_group", "accuracy_group"])
    assert distance.loc[("math/Pretrain@6", "math/Test@8"), "own"]
    assert distance.loc[("math/Pretrain@6", "math/Test@8"), "pearson"] == pytest.approx(-1.0)
    assert not distance.loc[("math/Pretrain@6", "math/Test@4"), "pearson"] <= -0.9  # flat or weaker (NaN: flat there)
    windows = distance.groupby(level="metric_group")["window"].nunique()
    assert (windows == 1).all()  # own and other rows over the same checkpoints


def test_validity_specificity_on_a_run_where_a_follows_its_own_accuracy_only():
    """Group a's distance follows a's accuracy; b's accuracy rises at another time: the own
    correlation is strong, the other weak, and the verdict says yes for a."""
    from grokviz.analysis import validity

    rng = np.random.default_rng(0)
    steps = list(range(0, 400, 10))
    s = np.asarray(steps, dtype=float)
    acc_a, acc_b = 1 / (1 + np.exp(-(s - 150) / 15)), 1 / (1 + np.exp(-(s - 320) / 15))
    acc = pd.concat([pd.DataFrame({"step": steps, "group": g, "split": "test", "accuracy": a})
                     for g, a in (("a", acc_a), ("b", acc_b))])
    metrics = pd.concat([pd.DataFrame({"step": steps, "group": g, "metric": "distance",
                                       "value": 10 - 5 * a + rng.normal(0, 0.1, len(steps))})
                         for g, a in (("a", acc_a), ("b", acc_b))])
    table = validity.validity_table("r", metrics, acc, steps, {"a": "a", "b": "b"}, pd.DataFrame(), None,
                                    bootstrap=200, permutations=200)
    spec = table[(table["group"] == "a") & (table["check"] == "specificity")].iloc[0]
    assert spec["value"] < -0.95 and spec["high"] > -0.8 and spec["n"] == 1  # own vs b's accuracy
    ok, line = validity.verdict(table[(table["group"] == "a") & (table["metric"] == "distance")], "distance")
    assert ok and line.startswith("tracks held-out accuracy beyond the time trend: yes")
