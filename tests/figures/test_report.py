"""The meeting report: standalone, offline, escaped."""

import pandas as pd

from grokviz.figures import report


def test_report_is_standalone_and_escaped():
    losses = pd.DataFrame({"step": [1, 2], "group": ["<g>"] * 2, "sample_id": ["a"] * 2, "loss": [2.0, 1.0]})
    page = report.meeting_report("run<1>", {"losses": losses, "steps": [1, 2]})
    assert "run&lt;1&gt;" in page and "<title>grokviz report: run&lt;1&gt;</title>" in page
    assert page.count("window.PlotlyConfig") == 1 and "<script src=" not in page  # plotly.js inline, once


def test_report_without_data_has_no_figures():
    page = report.meeting_report("empty", {})
    assert "<section>" not in page and page.endswith("</body></html>")
