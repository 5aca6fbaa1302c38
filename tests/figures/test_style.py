"""Shared style: fixed expert palette and the export configuration."""

import pytest

from grokviz.figures import style


def test_expert_colours_are_distinct_for_olmoe():
    assert len({style.expert_color(e) for e in range(64)}) == 64


def test_export_config_formats():
    assert style.export_config("run/x y", "png")["toImageButtonOptions"] == {
        "format": "png", "filename": "run_x_y", "scale": 2}
    assert style.export_config("a", "svg")["toImageButtonOptions"]["format"] == "svg"
    with pytest.raises(ValueError):
        style.export_config("a", "pdf")


def test_placeholder_carries_message():
    assert style.placeholder("nothing").layout.annotations[0].text == "nothing"
