"""The meeting report: one standalone HTML file with a run's key figures, readable offline.

`meeting_report(run, inputs)` takes the frames the dashboard already queried (losses,
accuracy, memorisation steps, a Sankey link table, pairs with their series, group metrics,
correlations, saturation; any may be missing) and lays out the same figure builders the pages
use. Plotly's JavaScript is embedded once, in the first figure, so the file opens without a
network. This module never queries the store and never imports Streamlit: `grokviz.report`
gathers the inputs (for the CLI and the dashboard alike).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from grokviz.figures import grokking, health, memorization, overview, sankey, style

CSS = """body{font-family:Inter,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{margin-bottom:0}.meta{color:#666;margin-top:.3em}section{margin:2em 0}h2{border-bottom:1px solid #ddd}"""


def _markdown_bold(text: str) -> str:
    """Escape text for HTML, turning **bold** into <b>bold</b>.

    >>> _markdown_bold("**a** < b")
    '<b>a</b> &lt; b'
    """
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _sections(run: str, inputs: dict[str, Any]) -> list[tuple[str, go.Figure]]:
    """(heading, figure) for every key figure the inputs allow, in reading order."""
    shape = inputs.get("model") or {}
    found: list[tuple[str, go.Figure]] = list(inputs.get("story") or [])  # headline, findings, validity first
    if _has(inputs, "losses"):
        found.append(("Loss per group over checkpoints", memorization.loss_bands(inputs["losses"])))
    if _has(inputs, "memorization"):
        found.append(("Memorisation steps and test accuracy (paper Fig. 1)", memorization.memorization_histogram(
            inputs["memorization"], list(inputs.get("steps", [])), inputs.get("accuracy"))))
    if _has(inputs, "links"):
        found.append(("Expert flow at the last checkpoint (per sample, argmax)", sankey.pathway_sankey(
            inputs["links"], int(shape.get("n_experts", 1)), top_n=min(12, int(shape.get("n_experts", 12))),
            unit="samples", layer_labels=shape.get("decoder_layers"))))
    for pair in inputs.get("pair_series") or []:
        found.append((f"{pair['label']} (paper Fig. 2)", grokking.pair_curves(
            pair["loss"], pair["accuracy"], pair["t_mem"], pair["t_gen"])))
        found.append((f"{pair['label']}: pathway metrics", grokking.metric_trends(
            pair["metrics"], ["distance", "consistency"], pair["t_mem"])))
    if _has(inputs, "correlations"):
        table = grokking.correlation_table(inputs["correlations"], with_paper=shape.get("model_type") == "olmoe")
        found.append(("Correlation with accuracy (paper Table 1 beside ours)", grokking.table_figure(table)))
    if _has(inputs, "saturation"):
        found.append(("Router saturation", health.saturation_figure(inputs["saturation"], top_k=1)))
    return found + list(inputs.get("compare") or [])  # several runs side by side, last


def _has(inputs: dict[str, Any], name: str) -> bool:
    frame = inputs.get(name)
    return isinstance(frame, pd.DataFrame) and not frame.empty


def meeting_report(run: str, inputs: dict[str, Any]) -> str:
    """The report as one HTML string (plotly.js embedded once).

    >>> page = meeting_report("tiny", {"losses": pd.DataFrame({"step": [1], "group": ["g"], "sample_id": ["a"],
    ...                                                        "loss": [1.0]})})
    >>> page.count("<section>"), "tiny" in page
    (1, True)
    """
    steps = list(inputs.get("steps") or [])
    summary = overview.findings_text(inputs.get("memorization"), inputs.get("pairs"), steps[-1]) if steps else None
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>grokviz report: {html.escape(run)}</title>",
             f"<style>{CSS}</style></head><body><h1>grokviz report: {html.escape(run)}</h1>",
             f"<p class='meta'>Generated {dt.datetime.now():%Y-%m-%d %H:%M} · {len(steps)} checkpoints</p>"]
    if summary:
        parts.append(f"<p>{_markdown_bold(summary)}</p>")
    for i, (heading, fig) in enumerate(_sections(run, inputs)):
        stamped = any(a.name == style.STAMP_NAME for a in fig.layout.annotations)  # e.g. several runs' stamps
        if inputs.get("stamp") and not stamped:
            style.stamp(fig, inputs["stamp"])
        body = fig.to_html(full_html=False, include_plotlyjs=(i == 0), config=style.export_config(f"{run}-{i}", "svg"))
        parts.append(f"<section><h2>{html.escape(heading)}</h2>{body}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
