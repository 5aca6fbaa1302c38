"""Comparing runs: series of several runs overlaid, their onsets side by side, their settings as a table.

Frames in are long tables with a `run` column: series have run, group, step and one value column
(held-out accuracy, a pathway metric of `group_metrics`); onsets have run, group, metric,
routing_onset, accuracy_onset (-1: none). Runs differ in length, so `aligned` puts them on one x
axis, by step or by fraction of training (step / the run's last checkpoint). Every figure keeps one
colour per run (`run_colors`, in the order the runs were picked) and one line dash per group, and
is titled with the runs it compares. `settings_table` lines up what defines each run
(`grokviz.api.Run.settings_record`) and marks the rows that differ.
Imports numpy, pandas and plotly only; never Streamlit, DuckDB or the store. Start at `overlay`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from grokviz.figures.style import placeholder, style

RUN_PALETTE: tuple[str, ...] = tuple(qualitative.D3)
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
AXIS = {"step": "step", "fraction": "fraction of training (step / last checkpoint)"}
METRIC_NAMES = {"distance": "pathway distance", "mean_cosine": "mean layer cosine", "consistency": "consistency",
                "training_loss": "training loss", "accuracy": "held-out accuracy"}
MISSING = "—"


def run_colors(runs: Sequence[str]) -> dict[str, str]:
    """One colour per run, in the order given (the order the runs were picked).

    >>> colors = run_colors(["b", "a"]); colors["b"] == RUN_PALETTE[0], colors["a"] == RUN_PALETTE[1]
    (True, True)
    """
    return {run: RUN_PALETTE[i % len(RUN_PALETTE)] for i, run in enumerate(dict.fromkeys(runs))}


def group_dashes(groups) -> dict[str, str]:
    """One line dash per group, stable for a set of group names (sorted order).

    >>> group_dashes(["pow3", "pow2"])
    {'pow2': 'solid', 'pow3': 'dash'}
    """
    return {g: DASHES[i % len(DASHES)] for i, g in enumerate(sorted(set(map(str, groups))))}


def compared_title(what: str, runs: Sequence[str]) -> str:
    """A figure title naming the runs compared.

    >>> compared_title("held-out accuracy", ["seed0", "seed1"])
    'held-out accuracy · seed0 vs seed1'
    """
    return f"{what} · {' vs '.join(runs)}"


def aligned(frame: pd.DataFrame, last_steps: Mapping[str, int], by: str = "step",
            column: str = "step") -> pd.Series:
    """The x value of every row: its step, or its step over its run's last checkpoint step.

    >>> frame = pd.DataFrame({"run": ["a", "a", "b"], "step": [50, 100, 100]})
    >>> aligned(frame, {"a": 100, "b": 400}, "fraction").tolist()
    [0.5, 1.0, 0.25]
    """
    if by not in AXIS:
        raise ValueError(f"by must be one of {tuple(AXIS)}, got {by!r}")
    steps = frame[column].astype(float)
    if by == "step":
        return steps
    last = frame["run"].map(lambda run: float(last_steps.get(run) or np.nan))
    return steps / last.where(last > 0)


def overlay(series: pd.DataFrame, value: str, what: str, runs: Sequence[str], last_steps: Mapping[str, int],
            by: str = "step", y_range: tuple[float, float] | None = None, height: int = 380) -> go.Figure:
    """Lines of `value` over checkpoints for every (run, group): colour = run, dash = group.

    >>> series = pd.DataFrame({"run": ["a", "a", "b", "b"], "group": "g", "step": [0, 10, 0, 20],
    ...                        "accuracy": [0.1, 0.9, 0.2, 0.8]})
    >>> fig = overlay(series, "accuracy", "held-out accuracy", ["a", "b"], {"a": 10, "b": 20}, by="fraction")
    >>> [t.name for t in fig.data], fig.data[1].x.tolist(), fig.layout.title.text
    (['a · g', 'b · g'], [0.0, 1.0], 'held-out accuracy · a vs b')
    """
    runs = [run for run in dict.fromkeys(runs) if (series["run"] == run).any()] if len(series) else []
    if not runs:
        return placeholder(f"No {what} in these runs (analyse them first)")
    series = series[series["run"].isin(runs)].assign(x=lambda f: aligned(f, last_steps, by))
    colors, dashes = run_colors(runs), group_dashes(series["group"])
    traces = []
    for run in runs:
        for group, part in series[series["run"] == run].groupby("group", sort=True):
            part = part.sort_values("x")
            traces.append(go.Scatter(
                x=part["x"].to_numpy(), y=part[value].to_numpy(dtype=float), mode="lines+markers", name=f"{run} · {group}", legendgroup=run,
                line=dict(color=colors[run], dash=dashes[str(group)], width=2), marker=dict(size=4),
                customdata=part["step"].to_numpy(), hovertemplate=(f"{run} · {group}<br>step %{{customdata}}<br>"
                                                        f"{what} %{{y:.3g}}<extra></extra>")))
    fig = go.Figure(data=traces)  # one batch: adding traces one by one re-validates the figure each time
    fig.update_xaxes(title=AXIS[by], tickformat=".0%" if by == "fraction" else None)
    fig.update_yaxes(title=what, range=list(y_range) if y_range else None)
    return style(fig, title=compared_title(what, runs), height=height)


def onset_figure(onsets: pd.DataFrame, runs: Sequence[str], last_steps: Mapping[str, int], by: str = "step",
                 height: int = 360) -> go.Figure:
    """Per metric (a panel each), every group's routing-only onset (filled circle) and its accuracy
    onset (open diamond) for every run (colour), aligned like the series; -1 (no onset) is not drawn.

    >>> onsets = pd.DataFrame({"run": ["a", "b"], "group": "g", "metric": "distance",
    ...                        "routing_onset": [40, -1], "accuracy_onset": [60, 80]})
    >>> fig = onset_figure(onsets, ["a", "b"], {"a": 100, "b": 100})
    >>> [(t.name, t.x.tolist()) for t in fig.data]
    [('a routing onset', [40.0]), ('a accuracy onset', [60.0]), ('b accuracy onset', [80.0])]
    """
    runs = list(dict.fromkeys(runs))
    drawn = onsets[onsets["run"].isin(runs) & ((onsets["routing_onset"] >= 0) | (onsets["accuracy_onset"] >= 0))] \
        if len(onsets) else onsets
    if drawn.empty:
        return placeholder("No onset in these runs: no routing metric or accuracy started to move after memorisation")
    metrics = [m for m in METRIC_NAMES if m in set(drawn["metric"])] + sorted(set(drawn["metric"]) - set(METRIC_NAMES))
    groups = sorted(drawn["group"].astype(str).unique())
    fig = make_subplots(rows=1, cols=len(metrics), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[METRIC_NAMES.get(m, m) for m in metrics])
    colors, shown, traces, cols = run_colors(runs), set(), [], []
    for col, metric in enumerate(metrics, start=1):
        for i, run in enumerate(runs):
            part = drawn[(drawn["run"] == run) & (drawn["metric"] == metric)]
            offset = (i - (len(runs) - 1) / 2) * 0.12  # runs side by side within a group's row
            y = part["group"].astype(str).map(groups.index).to_numpy(dtype=float) + offset
            for kind, symbol in (("routing", "circle"), ("accuracy", "diamond-open")):
                keep = (part[f"{kind}_onset"] >= 0).to_numpy()
                if not keep.any():
                    continue
                rows = part[keep].rename(columns={f"{kind}_onset": "step"})
                traces.append(go.Scatter(
                    x=aligned(rows, last_steps, by).to_numpy(), y=y[keep], mode="markers", name=f"{run} {kind} onset",
                    legendgroup=f"{run} {kind}", showlegend=(run, kind) not in shown,
                    marker=dict(color=colors[run], symbol=symbol, size=11, line=dict(width=2, color=colors[run])),
                    customdata=np.column_stack([rows["group"].astype(str), rows["step"]]),
                    hovertemplate=f"{run} · %{{customdata[0]}}<br>{kind} onset at step %{{customdata[1]}}<extra></extra>"))
                cols.append(col)
                shown.add((run, kind))
    fig.add_traces(traces, rows=[1] * len(traces), cols=cols)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(groups))), ticktext=groups,
                     range=[-0.6, len(groups) - 0.4])
    fig.update_xaxes(title=AXIS[by], tickformat=".0%" if by == "fraction" else None)
    title = compared_title("routing-only onset (●) and accuracy onset (◇)", runs)
    return style(fig, title=title, height=height)


def settings_table(records: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per setting, one column per run (missing: "—"), and `differs`: whether the runs'
    values are not all equal. Rows keep the order the settings first appear in.

    >>> table = settings_table({"a": {"model.n_layers": "2", "demo.seed": "0"},
    ...                         "b": {"model.n_layers": "3", "demo.seed": "0", "demo.lr": "0.001"}})
    >>> table.reset_index().values.tolist()
    [['model.n_layers', '2', '3', True], ['demo.seed', '0', '0', False], ['demo.lr', '—', '0.001', True]]
    """
    settings = list(dict.fromkeys(key for record in records.values() for key in record))
    table = pd.DataFrame({run: [str(record.get(key, MISSING)) for key in settings] for run, record in records.items()},
                         index=pd.Index(settings, name="setting"))
    table["differs"] = table.nunique(axis=1) > 1 if len(records) else False
    return table


def tagged(frames: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Every run's frame with a `run` column first, concatenated (runs without rows left out).

    >>> tagged({"a": pd.DataFrame({"x": [1]}), "b": None}).to_dict("records")
    [{'run': 'a', 'x': 1}]
    """
    parts = [frame.assign(run=run) for run, frame in frames.items() if frame is not None and len(frame)]
    if not parts:
        return pd.DataFrame(columns=["run"])
    joined = pd.concat(parts, ignore_index=True)
    return joined[["run", *[c for c in joined.columns if c != "run"]]]


def data_groups(frame: pd.DataFrame | None, groups) -> pd.DataFrame | None:
    """The rows of a run's own data groups (tasks, domains): runs share these, not their
    Pretrain@t / Test@q groups or cross-group controls."""
    if frame is None or frame.empty:
        return frame
    return frame[frame["group"].astype(str).isin(set(map(str, groups)))]


def metric_rows(group_metrics: pd.DataFrame | None, metric: str, groups) -> pd.DataFrame | None:
    """step, group, value of one `group_metrics` metric, data groups only."""
    table = data_groups(group_metrics, groups)
    return None if table is None else table.loc[table["metric"] == metric, ["step", "group", "value"]]


def differing_settings(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a `settings_table` whose values differ between the runs (without the flag)."""
    return table[table["differs"]].drop(columns="differs").reset_index(names="setting")
