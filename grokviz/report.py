"""The meeting report, built headless: one standalone HTML file with a run's key figures.

`build_report(run)` gathers what the figures need from a `grokviz.api.Run` and lays it out with
`grokviz.figures.report.meeting_report`; the dashboard's sidebar button and `grokviz report`
both call it, so the file is the same wherever it is made. Nothing here imports Streamlit or
torch. Start at `write_report`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from grokviz.api import Run
from grokviz.errors import InputError
from grokviz.figures import grokking, report, story
from grokviz.store.layout import Store

MAX_PAIRS = 6  # pairs drawn in the report, in the analysis' order


def report_inputs(run: Run) -> dict[str, Any]:
    """Every frame the report's sections may use (missing analysis tables are None)."""
    steps, model = run.steps(), run.model()
    inputs: dict[str, Any] = {"losses": run.losses(), "accuracy": run.accuracy(), "steps": steps, "model": model,
                              "stamp": run.stamp()}
    for name in ("pairs", "group_metrics", "correlations", "saturation", "memorization"):
        inputs[name] = run.analysis(name)
    if inputs["memorization"] is None and len(steps) > 1:  # no analysis yet: t* with the default eps
        inputs["memorization"] = run.memorization()
    if steps and int(model.get("n_layers", 1)) > 1:
        inputs["links"] = run.sample_links(steps[-1])
    inputs["pair_series"] = [run.pair_series(label) for label in run.pair_labels()[:MAX_PAIRS]]
    inputs["story"] = story_sections(run)
    return inputs


def story_sections(run: Run) -> list[tuple[str, go.Figure]]:
    """The Overview's headline and findings, and the validity panels of the largest judged group."""
    frames = run.story()
    if not frames["findings"]:
        return []
    sections = [("What happened, per task: accuracy, pathway distance, onsets and verdicts",
                 story.headline(frames["curves"], frames["marks"], frames["verdicts"],
                                title=f"{run.name}: accuracy and pathway distance per task")),
                ("Findings per task", grokking.table_figure(story.findings_table(frames["findings"])))]
    top = run.targets().iloc[0]
    n_layers = int(run.model().get("n_layers", 0))
    for metric in grokking.drawable(["distance", "mean_cosine", "consistency"], n_layers):
        sections.append((f"Is the signal real? {top['label']}: {metric.replace('_', ' ')}",
                         run.figure("validity", group=top["group"], metric=metric)))
    return sections


def build_report(run: Run) -> str:
    """The report of one run as an HTML string (plotly.js embedded once; opens offline)."""
    return report.meeting_report(run.name, report_inputs(run))


def write_report(store_root: str | Path, run_name: str, out: str | Path) -> Path:
    """Write the report of `run_name` in the store at `store_root` to `out` (.html)."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report is one HTML file: give a name ending in .html", file=str(out))
    with Run(Store(store_root, create=False), run_name) as run:
        page = build_report(run)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
