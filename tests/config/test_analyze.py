"""Named presets, recorded departures, the settings stamp, and CLI flags made from the fields."""

from __future__ import annotations

import pytest

from grokviz.cli import build_parser
from grokviz.cli.flags import config_values
from grokviz.config import PRESETS, AnalyzeConfig
from grokviz.errors import InputError


def test_paper_is_the_default_and_departures_are_recorded():
    config = AnalyzeConfig(run="r")
    assert config.preset == "paper" and config.departures() == {}
    assert config.stamp("predicting") == "preset paper; tau 0.7; distance char; positions predicting"
    other = AnalyzeConfig.from_preset("r", distance="expert", include_last=True)
    assert other.departures() == {"distance": "expert", "include_last": True}
    assert other.stamp("all") == "preset paper; tau 0.7; distance expert; positions all; include last True"
    assert other.to_dict()["preset"] == "paper" and "version" in other.to_dict()


def test_the_legacy_preset_keeps_the_first_round_readings():
    legacy = AnalyzeConfig.from_preset("r", "legacy")
    assert (legacy.include_last, legacy.layer_distance, legacy.loss_baseline) == (True, "char", "memorized")
    assert legacy.departures() == {} and set(PRESETS) == {"paper", "legacy"}
    assert AnalyzeConfig.from_preset("r", "legacy", top_k=2).stamp() == "preset legacy; top-2; distance char"


@pytest.mark.parametrize("settings, field", [
    ({"consistency_weights": "mean"}, "consistency_weights"),
    ({"consistency_cosine": "per_token"}, "consistency_cosine"),
    ({"preset": "nature"}, "preset"),
    ({"loss_window": 0}, "loss_window"),
], ids=["unknown-weights", "per-token-needs-token-weights", "unknown-preset", "window"])
def test_bad_settings_name_the_field(settings, field):
    with pytest.raises(InputError, match=field):
        AnalyzeConfig(run="r", **settings)


def test_analyze_flags_come_from_the_fields():
    args = build_parser().parse_args(["analyze", "--run", "r", "--preset", "legacy", "--top-k", "2",
                                      "--consistency-weights", "selected", "--no-projection"])
    given = config_values(args, AnalyzeConfig)
    assert given == {"preset": "legacy", "top_k": 2, "consistency_weights": "selected", "projection": False}
    config = AnalyzeConfig.from_preset("r", given.pop("preset"), **given)
    assert config.tau is None and config.include_last  # the preset's, as no flag overrode it
    help_text = build_parser()._subparsers._group_actions[0].choices["analyze"].format_help()
    assert "(default: expert)" in help_text and "--layer-distance" in help_text
