"""Grokking figures: pair curves, trends, per-layer grid, scatter and Table 1."""

import pandas as pd
import pytest

from grokviz.figures import grokking


def metrics():
    rows = [(s, m, v - 0.1 * s, 0.05) for s in (1, 2, 3, 4) for m, v in
            (("distance", 10.0), ("consistency", 0.5), ("distance_layer_0", 3.0), ("distance_layer_1", 4.0))]
    return pd.DataFrame(rows, columns=["step", "metric", "value", "stderr"])


def test_pair_curves_phase_and_markers():
    loss = pd.DataFrame({"step": [1, 2, 3], "loss": [2.0, 0.5, 0.4]})
    acc = pd.DataFrame({"step": [1, 2, 3], "accuracy": [0.0, 0.2, 0.9]})
    fig = grokking.pair_curves(loss, acc, 1, 3)
    texts = [a.text for a in fig.layout.annotations]
    assert any("delay 2" in t for t in texts) and any("memorised at 1" in t for t in texts)
    assert fig.layout.shapes[0].type == "rect"


def test_trend_fitted_only_after_memorization():
    fig = grokking.metric_trends(metrics(), ["distance", "consistency"], t_mem=2)
    fits = [t for t in fig.data if t.line.dash == "dash"]
    assert len(fits) == 2 and list(fits[0].x) == [2.0, 4.0]


def test_layer_grid_one_panel_per_layer():
    fig = grokking.layer_distance_grid(metrics())
    assert [a.text for a in fig.layout.annotations] == ["layer 0", "layer 1"]


def test_scatter_needs_two_common_checkpoints():
    series = pd.DataFrame({"step": [1], "value": [1.0]})
    fig = grokking.metric_accuracy_scatter(series, pd.DataFrame({"step": [1], "accuracy": [0.5]}), "distance")
    assert "two or more" in fig.layout.annotations[0].text


def test_linear_trend():
    assert grokking.linear_trend([1, 2, 3], [2.0, 4.0, 6.0]) == pytest.approx((2.0, 0.0))
    assert grokking.linear_trend([1], [2.0]) is None


def test_correlation_table_with_paper_values_for_olmoe():
    ours = pd.DataFrame({"domain": ["open-web-math", "toy"], "metric": ["consistency", "distance"],
                         "pearson": [0.91234, -0.5], "spearman": [0.9, -0.4], "pearson_vs_step": [0.3, 0.2]})
    table = grokking.correlation_table(ours, with_paper=True)
    assert table["paper pearson"].iloc[0] == 0.925 and pd.isna(table["paper pearson"].iloc[1])
    assert table["pearson"].iloc[0] == 0.912 and "pearson_vs_step" in table
    assert "paper pearson" not in grokking.correlation_table(ours)


def test_paper_table_has_every_cell():
    table = grokking.paper_table()
    assert table.shape == (4, 5) and table.loc[0, "math"] == "-0.947 / -0.949"
