"""Driving the dashboard in Streamlit's AppTest: open a page on a store, read what it shows.

The app is the package's own `grokviz/dashboard/app.py` (what `grokviz app` serves); pages are
switched the way `st.navigation` registers them (`views/NAME.py`).
"""

from __future__ import annotations

import json

from factories import ROOT
from streamlit.testing.v1 import AppTest

APP = str(ROOT / "grokviz" / "dashboard" / "app.py")
PAGES = ("overview", "memorization", "pathways", "map", "grokking", "inspector", "health", "compare")


def open_app(monkeypatch, root, page: str = "overview", params: dict | None = None, timeout: int = 60) -> AppTest:
    """Run the dashboard on the store at `root` and show `page` (no exception allowed)."""
    monkeypatch.setenv("GROKVIZ_STORE", str(root))
    at = AppTest.from_file(APP, default_timeout=timeout)
    if params:
        at.query_params = dict(params)
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    """The Plotly figures on screen, as their JSON specs."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart(at: AppTest, key: str) -> dict:
    """The Plotly figure drawn with element key `key` (the element a page must show)."""
    found = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no figure with key {key!r} on the page; keys: {[c.proto.id for c in at.get('plotly_chart')]}"
    return found[0]


def table_with(at: AppTest, *columns: str):
    """The first table on the page that has all of `columns`."""
    for element in at.dataframe:
        if set(columns) <= set(element.value.columns):
            return element.value
    raise AssertionError(f"no table with columns {columns} on the page")


def copy_link(at: AppTest) -> str:
    """The sidebar's copy-link box."""
    return at.sidebar.code[0].value


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def values(trace: dict, axis: str) -> list:
    """A trace's data along `axis`, decoding Plotly's typed-array encoding ({"dtype", "bdata"})."""
    import base64

    import numpy as np

    data = trace.get(axis, [])
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)
