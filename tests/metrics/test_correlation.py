"""Correlations with accuracy, the rise window and the step controls (METHOD 8)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from grokviz.metrics import correlation as corr

STEPS = list(range(0, 1100, 100))  # 11 checkpoints


def slow_pearson(x, y) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def slow_ranks(x) -> list[float]:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def sigmoid_accuracy(center=600.0, noise=0.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.05 + 0.85 / (1 + np.exp(-(np.array(STEPS) - center) / 80)) + rng.normal(0, noise, len(STEPS))


@pytest.mark.parametrize("window", [None, (200, 900)], ids=["all-steps", "window-200-900"])
def test_correlate_matches_reference_with_nans(window):
    rng = np.random.default_rng(1)
    metric, acc = rng.normal(size=len(STEPS)), rng.normal(size=len(STEPS))
    metric[3], acc[7] = np.nan, np.nan
    keep = [i for i, s in enumerate(STEPS) if (window is None or window[0] <= s <= window[1])
            and not (np.isnan(metric[i]) or np.isnan(acc[i]))]
    x, y = [metric[i] for i in keep], [acc[i] for i in keep]
    out = corr.correlate(metric, acc, STEPS, window)
    assert out["n_points"] == len(keep)
    assert out["pearson"] == pytest.approx(slow_pearson(x, y))
    assert out["spearman"] == pytest.approx(slow_pearson(slow_ranks(x), slow_ranks(y)))
    assert out["pearson_p"] == pytest.approx(stats.pearsonr(x, y).pvalue)
    expected_window = "0:1000" if window is None else "200:900"
    assert out["window"] == expected_window


@pytest.mark.parametrize(
    ("metric", "accuracy"),
    [([1.0] * 11, list(range(11))), (list(range(11)), [0.5] * 11), ([1.0, 2.0] + [np.nan] * 9, list(range(11)))],
    ids=["constant-metric", "constant-accuracy", "two-points"],
)
def test_degenerate_input_gives_nan_without_warnings(metric, accuracy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = corr.correlate(metric, accuracy, STEPS, window=None)
        table = corr.correlation_table({"m": metric}, accuracy, STEPS, window=None)
    assert all(math.isnan(out[k]) for k in ("pearson", "pearson_p", "spearman", "spearman_p"))
    assert math.isnan(table.loc[0, "partial_given_step"])


def test_rise_window_on_a_sigmoid_starts_at_the_foot():
    acc = sigmoid_accuracy(center=600)
    start, stop = corr.rise_window(STEPS, acc)
    threshold = acc[0] + 0.1 * (acc.max() - acc[0])
    first_above = next(i for i in range(len(acc)) if all(acc[i:] > threshold))
    assert (start, stop) == (STEPS[first_above - 1], STEPS[-1])
    assert acc[STEPS.index(start)] <= threshold


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [
        ([0.3] * 11, (0, 1000)),
        ([0.9 - 0.05 * i for i in range(11)], (0, 1000)),
        ([0.1] * 10 + [0.9], (800, 1000)),
        ([0.1] * 5 + [0.9] * 5 + [0.1], (0, 1000)),
    ],
    ids=["flat", "falling", "late-rise-widened-to-3-points", "rise-not-sustained"],
)
def test_rise_window_edge_cases(accuracy, expected):
    assert corr.rise_window(STEPS, accuracy) == expected


def test_rise_window_ignores_missing_points_and_short_series():
    acc = sigmoid_accuracy(center=600)
    acc[1] = np.nan
    assert corr.rise_window(STEPS, acc) == corr.rise_window(STEPS, np.nan_to_num(acc, nan=acc[0]))
    assert corr.rise_window([1, 2], [0.0, 1.0]) == (1, 2)


def test_auto_window_is_the_rise_window():
    acc = sigmoid_accuracy(center=600, noise=0.01)
    metric = -acc + np.random.default_rng(2).normal(0, 0.02, len(STEPS))
    start, stop = corr.rise_window(STEPS, acc)
    assert corr.correlate(metric, acc, STEPS)["window"] == f"{start}:{stop}"
    assert corr.correlate(metric, acc, STEPS) == corr.correlate(metric, acc, STEPS, (start, stop))


def test_partial_correlation_matches_formula():
    rng = np.random.default_rng(3)
    z = np.arange(20.0)
    x, y = z + rng.normal(0, 3, 20), 0.5 * z + rng.normal(0, 3, 20)
    rxy, rxz, ryz = slow_pearson(x, y), slow_pearson(x, z), slow_pearson(y, z)
    expected = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    assert corr.partial_correlation(x, y, z) == pytest.approx(expected)


def test_trend_only_metric_loses_its_correlation_given_the_step():
    rng = np.random.default_rng(4)
    step = np.arange(30.0)
    metric, acc = -step + rng.normal(0, 1, 30), step + rng.normal(0, 1, 30)
    row = corr.correlation_table({"trend": metric}, acc, step.astype(int), window=None).iloc[0]
    assert row["pearson"] < -0.9 and row["pearson_vs_step"] < -0.9
    assert abs(row["partial_given_step"]) < 0.5


@pytest.mark.parametrize("window", [1, 3, 4], ids=["w1", "w3", "w4"])
def test_moving_average_matches_loop(window):
    x = [3.0, 1.0, np.nan, 4.0, 1.0, 5.0, 9.0]
    expected = []
    for i in range(len(x)):
        known = [v for v in x[max(0, i - window + 1) : i + 1] if not np.isnan(v)]
        expected.append(sum(known) / len(known) if known else np.nan)
    np.testing.assert_allclose(corr.moving_average(x, window), expected)


@pytest.mark.parametrize("control", ["step", "index"], ids=["step-values", "checkpoint-index"])
def test_correlation_table_columns_and_controls(control):
    steps = [0, 10, 20, 40, 80, 160, 320]
    acc = [0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9]
    metrics = {"distance": [9.0, 8.0, 7.5, 6.0, 4.0, 3.0, 2.5], "loss": [1.0, 0.5, 0.4, 0.4, 0.3, 0.3, 0.3]}
    table = corr.correlation_table(metrics, acc, steps, window=None, control=control)
    assert tuple(table.columns) == corr.COLUMNS
    assert list(table["metric"]) == ["distance", "loss"]
    clock = steps if control == "step" else list(range(len(steps)))
    assert table.loc[0, "pearson_vs_step"] == pytest.approx(slow_pearson(metrics["distance"], clock))


def test_cross_correlation_table_covers_every_pair():
    acc = {"a": sigmoid_accuracy(300), "b": sigmoid_accuracy(800)}
    table = corr.cross_correlation_table({"a": -acc["a"], "b": -acc["b"]}, acc, STEPS)
    assert len(table) == 4
    paired = table[table["metric_group"] == table["accuracy_group"]]
    assert np.allclose(paired["pearson"], -1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: corr.correlate([1.0, 2.0], [1.0, 2.0, 3.0], [1, 2, 3]), "one value per step"),
        (lambda: corr.correlate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [3, 2, 1]), "ascending"),
        (lambda: corr.correlate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1, 2, 3], (3, 1)), "after its end"),
        (lambda: corr.correlate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1, 2, 3], "rise"), "auto"),
        (lambda: corr.rise_window([1, 2, 3], [0.0, 0.5, 1.0], frac=1.5), "frac"),
        (lambda: corr.moving_average([1.0], 0), "window"),
        (lambda: corr.partial_correlation([1.0, 2.0], [1.0], [1.0, 2.0]), "equal length"),
        (lambda: corr.correlation_table({}, [1.0], [1], control="time"), "control"),
    ],
    ids=["length", "steps-order", "reversed-window", "unknown-window", "bad-frac", "zero-window", "partial-lengths",
         "bad-control"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()
