"""grokviz.widgets: the parts that work without a running page (the rest is covered by test_app)."""

from grokviz.dashboard import widgets


def test_selected_ids_from_plotly_event():
    event = {"selection": {"points": [{"customdata": "s001"}, {"customdata": ["s002"]}, {"x": 1}]}}
    assert widgets.selected_ids(event) == ["s001", "s002"]
    assert widgets.selected_ids(None) == [] and widgets.selected_ids({}) == []
