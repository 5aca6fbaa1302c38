"""Memorisation figures: loss bands and the t* histogram with the accuracy line."""

import pandas as pd

from grokviz.figures import memorization


def losses():
    rows = [(s, g, f"{g}{i}", 3.0 / (1 + s * (i + 1))) for g in ("a", "b") for i in range(4) for s in (1, 2, 3)]
    return pd.DataFrame(rows, columns=["step", "group", "sample_id", "loss"])


def test_loss_bands_one_median_and_band_per_group():
    fig = memorization.loss_bands(losses())
    assert [t.name for t in fig.data if t.name.endswith("median")] == ["a median", "b median"]
    assert sum(t.fill == "tonexty" for t in fig.data) == 2


def test_loss_bands_individual_samples_on_demand():
    assert len(memorization.loss_bands(losses(), samples_per_group=2).data) == 6 + 4


def test_histogram_counts_only_before_last_checkpoint():
    t_star = pd.DataFrame({"sample_id": list("abcde"), "group": ["g"] * 5, "t_star": [1, 1, 2, 3, -1]})
    fig = memorization.memorization_histogram(t_star, [1, 2, 3])
    assert list(fig.data[0].x) == [1, 2] and list(fig.data[0].y) == [2, 1]
    assert "2 of 5" in fig.layout.annotations[0].text


def test_histogram_accuracy_on_secondary_axis():
    t_star = pd.DataFrame({"sample_id": ["a"], "group": ["g"], "t_star": [1]})
    acc = pd.DataFrame({"step": [1, 2], "group": ["g", "g"], "accuracy": [0.2, 0.8]})
    fig = memorization.memorization_histogram(t_star, [1, 2], acc)
    assert fig.data[1].yaxis == "y2" and fig.layout.yaxis2.range == (0, 1.02)


def test_empty_inputs_give_messages():
    assert memorization.loss_bands(losses().iloc[:0]).layout.annotations
    assert memorization.memorization_histogram(pd.DataFrame(columns=["sample_id", "group", "t_star"]), [1]).layout.annotations
