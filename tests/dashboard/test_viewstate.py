"""URL parameters: every value is checked against what the store holds."""

import pytest

from grokviz.dashboard import viewstate

KNOWN = viewstate.Known(runs=("tiny", "other"), steps=(100, 200), groups=("even", "odd"), samples=frozenset({"s1", "s2"}),
                        n_layers=16, n_experts=64, pairs=("math: Pretrain@1 -> Test@2",))


@pytest.mark.parametrize("raw, expected", [
    ({"run": "other", "step": "200"}, {"run": "other", "step": 200}),
    ({"layers": "0-15", "layer": "15", "topn": "64"}, {"layers": (0, 15), "layer": 15, "topn": 64}),
    ({"eps": "auto", "delta": "0.1"}, {"eps": "auto", "delta": 0.1}),
    ({"eps": "0.5", "group": "all"}, {"eps": 0.5, "group": "all"}),
    ({"pair": "math: Pretrain@1 -> Test@2"}, {"pair": "math: Pretrain@1 -> Test@2"}),
    ({"runs": "other,tiny", "align": "fraction"}, {"runs": ("other", "tiny"), "align": "fraction"}),
    ({"diff": "1"}, {"diff": True}),
], ids=["run-step", "layers", "eps-auto", "eps-number", "pair", "runs-align", "diff"])
def test_valid_values_pass(raw, expected):
    assert viewstate.parse_params(raw, KNOWN) == (expected, [])


@pytest.mark.parametrize("raw", [
    {"run": "../tiny"}, {"step": "150"}, {"step": "100; DROP"}, {"layers": "0-16"}, {"layers": "3-3"},
    {"layer": "-1"}, {"topn": "0"}, {"color": "red"}, {"flow": "x"}, {"sample": "s3"}, {"eps": "inf"},
    {"eps": "-1"}, {"delta": "nan"}, {"group": "evens"}, {"curves": "51"}, {"page": "health"},
    {"runs": "tiny,nope"}, {"runs": ""}, {"runs": "../tiny"}, {"align": "tokens"}, {"diff": "maybe"},
])
def test_invalid_values_are_dropped_with_a_message(raw):
    view, problems = viewstate.parse_params(raw, KNOWN)
    assert view == {} and len(problems) == 1 and problems[0].startswith("Ignored")


def test_bad_run_does_not_stop_other_checks():
    view, problems = viewstate.parse_params({"run": "nope", "step": "100"}, KNOWN)
    assert view == {"step": 100} and "no such run" in problems[0]


def test_round_trip_through_the_url():
    view = {"run": "tiny", "step": 200, "layers": (2, 9), "color": "loss", "eps": "auto"}
    params = viewstate.to_params(view)
    assert viewstate.parse_params(params, KNOWN) == (view, [])
    assert viewstate.link("http://h/map", view) == "http://h/map?run=tiny&step=200&layers=2-9&color=loss&eps=auto"
    assert viewstate.link(None, {}) == ""


def test_compared_runs_and_flags_round_trip():
    view = {"run": "tiny", "diff": True, "runs": ("other", "tiny"), "align": "step"}
    params = viewstate.to_params(view)
    assert params == {"run": "tiny", "diff": "1", "runs": "other,tiny", "align": "step"}
    assert viewstate.parse_params(params, KNOWN) == (view, [])
    assert viewstate.parse_params({"runs": "tiny,tiny"}, KNOWN) == ({"runs": ("tiny",)}, [])


def test_shown_values_cannot_break_out_of_code_span():
    assert viewstate.shown("a`b\ncd") == "`abcd`"
