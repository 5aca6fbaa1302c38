"""`Run.figure(kind, ...)`: the dashboard's figures by name, for notebooks and scripts.

Each kind gathers what its builder in `grokviz.figures` needs from a `Run` and returns the
Plotly figure; `KINDS` lists them with what they show. Unknown kinds and missing inputs are an
`InputError` that says what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from grokviz import names
from grokviz.errors import InputError
from grokviz.figures import grokking, health, memorization, overview, projection, sankey, validity

if TYPE_CHECKING:
    from grokviz.api.run import Run

KINDS: dict[str, str] = {
    "losses": "loss per group over checkpoints (median and quartiles)",
    "memorization": "memorisation steps per checkpoint with held-out accuracy (paper Fig. 1)",
    "checkpoints": "the run's checkpoints and their completeness",
    "sankey": "layer-to-layer expert flow at one checkpoint (step=, tau=, group=, top_n=)",
    "pair": "one Pretrain@p -> Test@q pair: loss, accuracy, delay (paper Fig. 2) (label=)",
    "metrics": "pathway distance and mean layer cosine of one group over checkpoints (group=)",
    "map": "the pathway map at one checkpoint (step=, color_by=)",
    "saturation": "router saturation per layer against the final checkpoint",
    "validity": "one metric of one group against its accuracy, with its band, the null baselines, the "
                "onsets and the verdict (group=, metric=)",
}


def figure(run: Run, kind: str, **options: Any) -> go.Figure:
    """The figure `kind` of `run` (see `KINDS`)."""
    if kind not in BUILDERS:
        raise InputError(f"unknown figure {kind!r}; choose one of: {', '.join(sorted(KINDS))}", field="kind")
    return BUILDERS[kind](run, **options)


def _last_step(run: Run, step: int | None) -> int:
    steps = run.steps()
    if not steps:
        raise InputError(f"run {run.name!r} has no complete checkpoint yet", field="step")
    if step is None:
        return steps[-1]
    if step not in steps:
        raise InputError(f"run {run.name!r} has no checkpoint {step}; it has {steps}", field="step")
    return int(step)


def _need(frame, what: str, run: Run):
    if frame is None or len(frame) == 0:
        raise InputError(f"run {run.name!r} has no {what} yet; run `grokviz analyze --run {run.name}`", field="kind")
    return frame


def _losses(run: Run) -> go.Figure:
    return memorization.loss_bands(run.losses(), title=f"{run.name}: loss per group")


def _memorization(run: Run) -> go.Figure:
    stored = run.analysis("memorization")
    t_star = stored if stored is not None else run.memorization()
    return memorization.memorization_histogram(t_star, run.steps(), run.accuracy(),
                                               title=f"{run.name}: memorisation steps and held-out accuracy")


def _checkpoints(run: Run) -> go.Figure:
    return overview.checkpoint_timeline(run.checkpoints(), title=f"{run.name}: checkpoints")


def _sankey(run: Run, step: int | None = None, tau: float | None = None, group: str | None = None,
            top_n: int = 8) -> go.Figure:
    step = _last_step(run, step)
    n_experts = int(run.model().get("n_experts", 1))
    who = f"group {group}" if group else "all samples"
    return sankey.pathway_sankey(run.group_links(step, group, tau), n_experts, top_n=min(top_n, n_experts),
                                 unit="samples", title=f"{run.name}: expert flow, {who}, step {step:,}",
                                 layer_labels=run.layers())


def _pair(run: Run, label: str | None = None) -> go.Figure:
    labels = run.pair_labels()
    label = label or (labels[0] if labels else None)
    pair = run.pair_series(label) if label else None
    if pair is None:
        raise InputError(f"run {run.name!r} has no pair {label!r}; pairs: {labels or 'none'}", field="label")
    return grokking.pair_curves(pair["loss"], pair["accuracy"], pair["t_mem"], pair["t_gen"],
                                title=f"{run.name}: {pair['label']}")


def _metrics(run: Run, group: str | None = None) -> go.Figure:
    table = _need(run.analysis("group_metrics"), "pathway metrics", run)
    groups = sorted(table[names.GROUP].astype(str).unique())
    group = group or groups[0]
    if group not in groups:
        raise InputError(f"run {run.name!r} has no group {group!r}; groups: {groups}", field="group")
    rows = table[table[names.GROUP].astype(str) == group]
    shown = grokking.drawable(["distance", "consistency", "mean_cosine"], int(run.model().get("n_layers", 0)))
    return grokking.metric_trends(rows, shown, title=f"{run.name}: pathway metrics of {group}")


def _map(run: Run, step: int | None = None, color_by: str = names.GROUP) -> go.Figure:
    points = _need(run.map_points(color_by), "pathway map", run)
    step = int(step) if step is not None else int(points[names.STEP].max())
    at = points[points[names.STEP] == step]
    categories = sorted(points[color_by].dropna().astype(str).unique()) if color_by == names.GROUP else None
    return projection.pathway_map(at, color_by, categories=categories,
                                  title=f"{run.name}: pathway map, step {step:,}, colour {color_by}")


def _saturation(run: Run) -> go.Figure:
    table = _need(run.analysis("saturation"), "router saturation (needs per-token routes)", run)
    return health.saturation_figure(table, top_k=1, title=f"{run.name}: router saturation")


def validity_figure(run: Run, group: str | None = None, metric: str = "distance") -> go.Figure:
    """The validity panel of one group's metric (the group with most memorised samples by default)."""
    targets = run.targets()
    if targets.empty:
        raise InputError(f"run {run.name!r} has no validity checks yet; run `grokviz analyze --run {run.name}`",
                         field="kind")
    row = targets.iloc[0] if group is None else targets[(targets["group"] == group) | (targets["label"] == group)]
    if isinstance(row, pd.DataFrame):
        if row.empty:
            raise InputError(f"no checks for {group!r}; groups: {targets['label'].tolist()}", field="group")
        row = row.iloc[0]
    onsets = run.onsets(row["group"])
    onset = onsets[onsets["metric"] == metric]
    marks = {"memorised": int(onset["start_step"].iloc[0]) if len(onset) else None,
             "routing onset": int(onset["routing_onset"].iloc[0]) if len(onset) else None,
             "accuracy onset": int(onset["accuracy_onset"].iloc[0]) if len(onset) else None}
    return validity.validity_panel(run.metric_series(row["group"], metric), run.accuracy_of(row["target"]), metric,
                                   run.null_series(row["group"], metric), marks, run.verdicts(row["group"]).get(metric, ""),
                                   title=f"{run.name}: {row['label']}")


BUILDERS: dict[str, Callable[..., go.Figure]] = {
    "losses": _losses, "memorization": _memorization, "checkpoints": _checkpoints, "sankey": _sankey,
    "pair": _pair, "metrics": _metrics, "map": _map, "saturation": _saturation, "validity": validity_figure,
}
