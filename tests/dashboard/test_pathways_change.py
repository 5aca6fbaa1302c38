"""The Pathways page's difference view on the quick demo: one Sankey coloured by each link's change
between the two checkpoints, with a colour bar, and the table of the most common pathways."""

from __future__ import annotations

import pytest
from apptest import chart, open_app, table_with

from grokviz.api import Run
from grokviz.figures import highways

pytestmark = pytest.mark.timeout(600)  # the first test that asks for demo_store builds it


def test_difference_sankey_colours_links_by_change(monkeypatch, demo_store):
    at = open_app(monkeypatch, demo_store.root, "pathways", timeout=180)
    assert not at.toggle(key="w.diff").value and "diff" not in at.query_params
    at.toggle(key="w.diff").set_value(True).run()
    assert not at.exception and at.query_params["diff"] == "1"
    spec = chart(at, "sankey_change")
    flow, bar = spec["data"]
    assert flow["type"] == "sankey" and len(set(flow["link"]["color"])) > 3  # coloured by change, not by expert
    assert bar["marker"]["showscale"] and bar["marker"]["colorbar"]["title"]["text"] == "change in share"
    assert bar["marker"]["cmin"] == -bar["marker"]["cmax"]
    steps = Run(demo_store, "demo").steps()
    assert spec["layout"]["title"]["text"] == f"step {steps[0]:,} → {steps[-1]:,}"
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("-sankey_left")]  # instead of the pair
    at.toggle(key="w.diff").set_value(False).run()
    assert "diff" not in at.query_params and chart(at, "sankey_left")


def test_highways_table_shares_and_sparklines(monkeypatch, demo_store):
    at = open_app(monkeypatch, demo_store.root, "pathways", {"diff": "1", "group": "pow6"}, timeout=180)
    table = table_with(at, "pathway", "left", "right", "trend")
    assert table["left"].sum() == pytest.approx(1.0) and table["right"].sum() == pytest.approx(1.0)
    assert table["pathway"].iloc[-1] == highways.OTHER_PATHWAYS and len(table) == 11
    with Run(demo_store, "demo") as run:
        steps, pathways = run.steps(), run.analysis("pathways")
        ids = set(run.samples().query("group == 'pow6'")["sample_id"])
    last = pathways[(pathways["step"] == steps[-1]) & pathways["sample_id"].isin(ids)]
    top = table.iloc[0]
    assert top["right"] == pytest.approx((last["pathway"] == top["pathway"]).mean())
    assert all(len(trend) == len(steps) for trend in table["trend"])
    element = next(e for e in at.dataframe if "trend" in e.value.columns)
    assert '"type": "line_chart"' in element.proto.columns  # the sparkline column
