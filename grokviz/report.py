"""The meeting report, built headless: one standalone HTML file with a run's key figures.

`build_report(run)` gathers what the figures need from a `grokviz.api.Run` and lays it out with
`grokviz.figures.report.meeting_report`; the dashboard's sidebar button and `grokviz report`
both call it, so the file is the same wherever it is made. Nothing here imports Streamlit or
torch. Start at `write_report`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from grokviz.api import Run
from grokviz.errors import InputError
from grokviz.figures import compare, grokking, report, story, style
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
        inputs["links"] = run.group_links(steps[-1])  # all samples' argmax flow, stored by analyze when it ran
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


def comparison_sections(runs: list[Run], by: str = "step") -> list[tuple[str, go.Figure]]:
    """The Compare runs page as report sections: held-out accuracy, the pathway metrics and the
    onsets of every run overlaid, and the settings that differ."""
    names, last = [r.name for r in runs], {r.name: (r.steps() or [0])[-1] for r in runs}
    own = {r.name: r.groups()["group"] for r in runs}
    accuracy = compare.tagged({r.name: compare.data_groups(r.accuracy("test"), own[r.name]) for r in runs})
    sections = [("Compare runs: held-out accuracy", compare.overlay(accuracy, "accuracy", "held-out accuracy", names,
                                                                   last, by, y_range=(0, 1.02)))]
    for metric in ("distance", "mean_cosine"):
        rows = compare.tagged({r.name: compare.metric_rows(r.analysis("group_metrics"), metric, own[r.name])
                               for r in runs}).rename(columns={"value": metric})
        sections.append((f"Compare runs: {compare.METRIC_NAMES[metric]}",
                         compare.overlay(rows, metric, compare.METRIC_NAMES[metric], names, last, by)))
    onsets = compare.tagged({r.name: compare.data_groups(r.verdict_table(), own[r.name]) for r in runs})
    sections.append(("Compare runs: routing-only and accuracy onsets", compare.onset_figure(onsets, names, last, by)))
    differing = compare.differing_settings(compare.settings_table({r.name: r.settings_record() for r in runs}))
    sections.append((f"Compare runs: the {len(differing)} settings that differ", grokking.table_figure(differing)))
    stamps = " | ".join(r.stamp() for r in runs)
    return [(heading, style.stamp(fig, stamps)) for heading, fig in sections]


def build_report(run: Run, others: list[Run] | None = None) -> str:
    """The report of one run as an HTML string (plotly.js embedded once; opens offline); with
    `others`, the comparison of `run` and them follows."""
    inputs = report_inputs(run)
    if others:
        inputs["compare"] = comparison_sections([run, *others])
    return report.meeting_report(run.name, inputs)


def write_report(store_root: str | Path, run_name: str, out: str | Path, compare_with: tuple[str, ...] = ()) -> Path:
    """Write the report of `run_name` in the store at `store_root` to `out` (.html), compared with
    the runs `compare_with` when given."""
    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError("the report is one HTML file: give a name ending in .html", file=str(out))
    store = Store(store_root, create=False)
    with contextlib.ExitStack() as opened:  # every run opened is closed, also when a later one is unknown
        run = opened.enter_context(Run(store, run_name))
        others = [opened.enter_context(Run(store, name)) for name in dict.fromkeys(compare_with) if name != run_name]
        page = build_report(run, others)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
