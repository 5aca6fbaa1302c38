"""`grokviz report`: the meeting report built headless, one HTML file that opens offline."""

from __future__ import annotations

import re

import pytest

from grokviz.cli import main
from grokviz.errors import InputError
from grokviz.report import write_report


def test_the_report_of_the_demo_is_one_offline_file(demo_store, tmp_path, capsys):
    out = tmp_path / "nested" / "report.html"
    assert main(["report", "--store", str(demo_store.root), "--run", "demo", "--out", str(out)]) == 0
    assert "opens offline" in capsys.readouterr().out
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.count("window.PlotlyConfig") == 1
    assert "<script src=" not in page  # plotly.js inline: no network needed
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert "Memorisation steps and test accuracy (paper Fig. 1)" in headings
    assert any("Pretrain@" in heading for heading in headings)  # the pairs of the analysis
    assert page.count("demo: preset paper; tau 0.7; distance char; positions predicting") == len(headings)  # every figure


def test_a_report_needs_an_html_name_and_an_existing_run(demo_store, tmp_path):
    with pytest.raises(InputError, match="ending in .html"):
        write_report(demo_store.root, "demo", tmp_path / "r.pdf")
    assert main(["report", "--store", str(demo_store.root), "--run", "nope", "--out", str(tmp_path / "r.html")]) == 2
    assert not (tmp_path / "r.html").exists()


def test_a_report_with_compare_overlays_the_runs_after_the_first_runs_story(compare_store, tmp_path, capsys):
    """`grokviz report --compare`: the Compare runs page in the file, every comparison figure stamped
    with both runs' settings, and only the settings that differ (the seed)."""
    out = tmp_path / "report.html"
    args = ["report", "--store", str(compare_store.root), "--run", "demo", "--compare", "seed1", "--out", str(out)]
    assert main(args) == 0 and "compared with seed1" in capsys.readouterr().out
    page = out.read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    compared = [h for h in headings if h.startswith("Compare runs:")]
    assert compared == ["Compare runs: held-out accuracy", "Compare runs: pathway distance",
                        "Compare runs: mean layer cosine", "Compare runs: routing-only and accuracy onsets",
                        "Compare runs: the 1 settings that differ"]
    assert headings.index(compared[0]) > headings.index("Memorisation steps and test accuracy (paper Fig. 1)")
    assert page.count("demo: preset paper; tau 0.7; distance char; positions predicting | seed1: preset paper") == 5
    assert "demo.seed" in page and page.count("window.PlotlyConfig") == 1
