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


def test_stamping_again_with_the_same_text_leaves_the_figure_untouched(monkeypatch):
    """A figure shared between dashboard reruns is stamped on every show: the second time it is only read."""
    import plotly.graph_objects as go

    fig = style.stamp(go.Figure(layout={"annotations": [{"text": "a note"}]}), "run: preset paper")
    before = fig.to_dict()
    monkeypatch.setattr(type(fig.layout), "annotations", property(lambda self: self["annotations"],
                                                                   lambda self, v: pytest.fail("rewritten")))
    assert style.stamp(fig, "run: preset paper") is fig and fig.to_dict() == before
    monkeypatch.undo()
    style.stamp(fig, "run: preset legacy")
    assert [a.text for a in fig.layout.annotations] == ["a note", "run: preset legacy"]
