"""Comparing runs: overlaid series, alignment by step or fraction, onsets, the settings table."""

import pandas as pd
import pytest

from grokviz.figures import compare


@pytest.fixture
def series():
    """Two runs of different lengths, two groups each."""
    rows = [(run, group, step, step / last) for run, last in (("short", 100), ("long", 400))
            for group in ("pow2", "pow3") for step in range(0, last + 1, last // 4)]
    return pd.DataFrame(rows, columns=["run", "group", "step", "accuracy"])


LAST = {"short": 100, "long": 400}


def test_overlay_one_colour_per_run_one_dash_per_group(series):
    fig = compare.overlay(series, "accuracy", "held-out accuracy", ["long", "short"], LAST)
    assert len(fig.data) == 4
    by_name = {trace.name: trace for trace in fig.data}
    assert by_name["long · pow2"].line.color == by_name["long · pow3"].line.color != by_name["short · pow2"].line.color
    assert by_name["long · pow2"].line.dash == by_name["short · pow2"].line.dash != by_name["long · pow3"].line.dash
    assert by_name["long · pow2"].line.color == compare.RUN_PALETTE[0]  # the first run picked
    assert fig.layout.title.text == "held-out accuracy · long vs short"
    assert max(by_name["long · pow2"].x) == 400 and fig.layout.xaxis.title.text == "step"


def test_overlay_by_fraction_ends_every_run_at_one(series):
    fig = compare.overlay(series, "accuracy", "held-out accuracy", ["short", "long"], LAST, by="fraction")
    assert all(max(trace.x) == 1.0 and min(trace.x) == 0.0 for trace in fig.data)
    assert fig.layout.xaxis.tickformat == ".0%"
    assert all(list(trace.customdata) == sorted(trace.customdata) for trace in fig.data)  # the steps, in hover


def test_overlay_skips_runs_without_data_and_says_so_when_none(series):
    fig = compare.overlay(series, "accuracy", "held-out accuracy", ["short", "gone"], LAST)
    assert {trace.name.split(" · ")[0] for trace in fig.data} == {"short"}
    empty = compare.overlay(series.iloc[:0], "accuracy", "held-out accuracy", ["short"], LAST)
    assert "No held-out accuracy" in empty.layout.annotations[0].text


def test_aligned_rejects_an_unknown_alignment(series):
    with pytest.raises(ValueError):
        compare.aligned(series, LAST, "tokens")


def test_onset_figure_one_panel_per_metric():
    onsets = pd.DataFrame({"run": ["a", "a", "b", "b", "b"], "group": ["g1", "g2", "g1", "g2", "g2"],
                           "metric": ["distance", "distance", "distance", "mean_cosine", "training_loss"],
                           "routing_onset": [10, -1, 20, 30, -1], "accuracy_onset": [40, 50, -1, 60, -1]})
    fig = compare.onset_figure(onsets, ["a", "b"], {"a": 100, "b": 200}, by="fraction")
    assert [a.text for a in fig.layout.annotations][:2] == ["pathway distance", "mean layer cosine"]
    routing = [t for t in fig.data if t.name == "b routing onset"]
    assert sorted(x for t in routing for x in t.x) == [0.1, 0.15]
    assert sum(t.showlegend for t in fig.data) == 4  # one legend entry per run and kind
    assert "a vs b" in fig.layout.title.text


def test_onset_figure_without_onsets_is_a_placeholder():
    onsets = pd.DataFrame({"run": ["a"], "group": ["g"], "metric": ["distance"], "routing_onset": [-1],
                           "accuracy_onset": [-1]})
    assert "No onset" in compare.onset_figure(onsets, ["a"], {"a": 1}).layout.annotations[0].text


def test_settings_table_marks_rows_that_differ():
    table = compare.settings_table({
        "seed0": {"model.n_layers": "2", "demo.seed": "0", "analysis.tau": "0.7"},
        "seed1": {"model.n_layers": "2", "demo.seed": "1", "analysis.tau": "0.7"},
        "plain": {"model.n_layers": "2"},
    })
    assert list(table.columns) == ["seed0", "seed1", "plain", "differs"]
    assert table["differs"].to_dict() == {"model.n_layers": False, "demo.seed": True, "analysis.tau": True}
    assert table.loc["analysis.tau", "plain"] == compare.MISSING
