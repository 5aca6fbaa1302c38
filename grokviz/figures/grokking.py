"""Grokking page figures: one Pretrain@p -> Test@q pair over training, and Table 1.

- `pair_curves` (paper Fig. 2): training loss and test accuracy, memorised-at marker,
  grokking phase shaded from p to q, delay annotated.
- `metric_trends` (Figs. 4, 6): pathway distance / consistency over checkpoints with a linear
  trend fitted on the checkpoints from memorisation on.
- `layer_distance_grid` (Fig. 5): per-layer distance small multiples.
- `metric_accuracy_scatter` (Fig. 7): a metric against accuracy, one point per checkpoint.
- `correlation_table` (Table 1): our correlations with the paper's values beside them.
Inputs are small long frames (step, value, ...). Imports numpy, pandas and plotly only.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from grokviz.figures.style import fraction_axis, placeholder, style

LOSS_COLOR, ACC_COLOR, TREND_COLOR = "#1f77b4", "#d62728", "#555555"
# Paper Table 1 (METHOD.md 8): (metric, domain) -> (Pearson, Spearman).
PAPER_TABLE1: dict[tuple[str, str], tuple[float, float]] = {
    ("pathway distance", "math"): (-0.947, -0.949), ("pathway distance", "code"): (-0.929, -0.928),
    ("pathway distance", "commonsense"): (-0.982, -0.975), ("pathway distance", "domain"): (-0.925, -0.949),
    ("pathway consistency", "math"): (0.925, 0.949), ("pathway consistency", "code"): (0.979, 0.986),
    ("pathway consistency", "commonsense"): (0.980, 0.975), ("pathway consistency", "domain"): (0.992, 0.949),
    ("training loss", "math"): (-0.044, -0.211), ("training loss", "code"): (-0.068, -0.205),
    ("training loss", "commonsense"): (0.643, 0.410), ("training loss", "domain"): (0.794, 0.949),
    ("validation loss", "math"): (0.480, -0.105), ("validation loss", "code"): (0.547, 0.872),
    ("validation loss", "commonsense"): (-0.575, -0.462), ("validation loss", "domain"): (-0.334, -0.316),
}
METRIC_LABELS = {"distance": "pathway distance", "consistency": "pathway consistency",
                 "mean_cosine": "mean layer cosine", "loss": "training loss",
                 "train_loss": "training loss", "training_loss": "training loss", "val_loss": "validation loss",
                 "validation_loss": "validation loss"}


def linear_trend(steps, values) -> tuple[float, float] | None:
    """Least-squares slope and intercept of values over steps (None with fewer than 2 points).

    >>> linear_trend([0, 1, 2], [1.0, 3.0, 5.0])
    (2.0, 1.0)
    """
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return None
    slope, intercept = np.polyfit(x[ok], y[ok], 1)
    return round(float(slope), 12), round(float(intercept), 12)


def pair_curves(loss: pd.DataFrame, accuracy: pd.DataFrame, t_mem: int, t_gen: int, title: str | None = None) -> go.Figure:
    """Training loss (left axis) and test accuracy (right) with the grokking phase from t_mem to t_gen.

    >>> loss = pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 0.5, 0.4]})
    >>> acc = pd.DataFrame({"step": [1, 2, 3], "accuracy": [0.0, 0.1, 0.9]})
    >>> [t.name for t in pair_curves(loss, acc, 2, 3).data]
    ['training loss (median)', 'test accuracy']
    """
    if loss.empty and accuracy.empty:
        return placeholder("No loss or accuracy for this pair")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=loss["step"], y=loss["loss"], mode="lines+markers", name="training loss (median)",
                             line=dict(color=LOSS_COLOR)), secondary_y=False)
    fig.add_trace(go.Scatter(x=accuracy["step"], y=accuracy["accuracy"], mode="lines+markers", name="test accuracy",
                             line=dict(color=ACC_COLOR)), secondary_y=True)
    fig.add_vrect(x0=t_mem, x1=t_gen, fillcolor="#f2c14e", opacity=0.18, line_width=0,
                  annotation_text=f"grokking phase: delay {t_gen - t_mem:,} steps", annotation_position="top left")
    fig.add_vline(x=t_mem, line=dict(color=LOSS_COLOR, dash="dash"), annotation_text=f"memorised at {t_mem:,}",
                  annotation_position="bottom right")
    fig.add_vline(x=t_gen, line=dict(color=ACC_COLOR, dash="dash"), annotation_text=f"generalised at {t_gen:,}",
                  annotation_position="bottom left")
    fig.update_xaxes(title="checkpoint step")
    fig.update_yaxes(title="training loss", secondary_y=False)
    fraction_axis(fig, "test accuracy", secondary_y=True)
    return style(fig, title=title, height=420)


def _trend_traces(series: pd.DataFrame, t_mem: int | None) -> list[go.Scatter]:
    """The metric with error bars, plus its dashed linear fit from t_mem on."""
    series = series.sort_values("step")
    error = dict(type="data", array=series["stderr"], visible=True) if "stderr" in series and series["stderr"].notna().any() else None
    traces = [go.Scatter(x=series["step"], y=series["value"], mode="lines+markers", error_y=error, showlegend=False,
                         line=dict(color=LOSS_COLOR))]
    after = series if t_mem is None else series[series["step"] >= t_mem]
    fit = linear_trend(after["step"], after["value"])
    if fit is not None:
        xs = np.array([after["step"].min(), after["step"].max()], dtype=float)
        traces.append(go.Scatter(x=xs, y=fit[0] * xs + fit[1], mode="lines", showlegend=False,
                                 line=dict(color=TREND_COLOR, dash="dash"),
                                 hovertemplate=f"trend after memorisation: {fit[0]:.3g} per step<extra></extra>"))
    return traces


CONSISTENCY_MIN_LAYERS = 3  # with fewer MoE layers, C = 1 - c / (c + 1e-8) is ~0 whatever the routing


def drawable(metrics: list[str] | tuple[str, ...], n_layers: int) -> list[str]:
    """`metrics` worth drawing for a model of `n_layers` MoE layers: consistency only from
    CONSISTENCY_MIN_LAYERS layers on (below that there is one layer cosine and C is degenerate).

    >>> drawable(["distance", "consistency", "mean_cosine"], 2)
    ['distance', 'mean_cosine']
    """
    return [m for m in metrics if m != "consistency" or n_layers >= CONSISTENCY_MIN_LAYERS]


def metric_trends(metrics: pd.DataFrame, names: list[str], t_mem: int | None = None, title: str | None = None) -> go.Figure:
    """One panel per metric name (rows of `metrics` with that `metric`), with fitted trends.

    >>> m = pd.DataFrame({"step": [1, 2, 3] * 2, "metric": ["distance"] * 3 + ["consistency"] * 3,
    ...                   "value": [9.0, 7.0, 5.0, 0.1, 0.2, 0.3], "stderr": 0.0})
    >>> len(metric_trends(m, ["distance", "consistency"], t_mem=2).data)
    4
    """
    present = [n for n in names if (metrics["metric"] == n).any()] if len(metrics) else []
    if not present:
        return placeholder(f"No {' or '.join(names)} values for this group")
    fig = make_subplots(rows=1, cols=len(present), subplot_titles=[METRIC_LABELS.get(n, n) for n in present])
    for col, name in enumerate(present, start=1):
        for trace in _trend_traces(metrics[metrics["metric"] == name], t_mem):
            fig.add_trace(trace, row=1, col=col)
        if t_mem is not None:
            fig.add_vline(x=t_mem, line=dict(color="#999", dash="dot"), row=1, col=col)
        fig.update_xaxes(title="checkpoint step", row=1, col=col)
    return style(fig, title=title, height=360)


def layer_distance_grid(metrics: pd.DataFrame, t_mem: int | None = None, columns: int = 4,
                        title: str | None = None) -> go.Figure:
    """Small multiples of `distance_layer_<l>` over checkpoints, one panel per layer.

    >>> m = pd.DataFrame({"step": [1, 2, 1, 2], "metric": ["distance_layer_0"] * 2 + ["distance_layer_1"] * 2,
    ...                   "value": [5.0, 4.0, 3.0, 3.5]})
    >>> layer_distance_grid(m).layout.annotations[1].text
    'layer 1'
    """
    per_layer = metrics[metrics["metric"].astype(str).str.fullmatch(r"distance_layer_\d+")] if len(metrics) else metrics
    if per_layer.empty:
        return placeholder("No per-layer distances for this group")
    layers = sorted({int(m.rsplit("_", 1)[1]) for m in per_layer["metric"]})
    rows = math.ceil(len(layers) / columns)
    fig = make_subplots(rows=rows, cols=min(columns, len(layers)), subplot_titles=[f"layer {l}" for l in layers],
                        shared_xaxes=True, vertical_spacing=0.12 if rows > 1 else 0.2)
    for i, layer in enumerate(layers):
        row, col = divmod(i, columns)
        for trace in _trend_traces(per_layer[per_layer["metric"] == f"distance_layer_{layer}"], t_mem):
            fig.add_trace(trace, row=row + 1, col=col + 1)
    return style(fig, title=title, height=max(260, 200 * rows))


def metric_accuracy_scatter(series: pd.DataFrame, accuracy: pd.DataFrame, metric: str,
                            title: str | None = None) -> go.Figure:
    """A metric (x) against accuracy (y) at the same checkpoints, coloured by step, with a fit.

    >>> s = pd.DataFrame({"step": [1, 2, 3], "value": [3.0, 2.0, 1.0]})
    >>> a = pd.DataFrame({"step": [1, 2, 3], "accuracy": [0.1, 0.5, 0.9]})
    >>> metric_accuracy_scatter(s, a, "distance").data[1].name
    'fit (r = -1.00)'
    """
    joined = series[["step", "value"]].merge(accuracy[["step", "accuracy"]], on="step").dropna()
    if len(joined) < 2:
        return placeholder(f"Need {metric} and accuracy at two or more common checkpoints")
    fig = go.Figure(go.Scatter(x=joined["value"], y=joined["accuracy"], mode="markers", name="checkpoints",
                               marker=dict(size=10, color=joined["step"], colorscale="Viridis",
                                           colorbar=dict(title=dict(text="step"))),
                               customdata=joined["step"],
                               hovertemplate="step %{customdata}<br>%{x:.4g}, accuracy %{y:.2f}<extra></extra>"))
    fit = linear_trend(joined["value"], joined["accuracy"])
    if fit is not None:
        r = float(np.corrcoef(joined["value"], joined["accuracy"])[0, 1])
        xs = np.array([joined["value"].min(), joined["value"].max()])
        fig.add_trace(go.Scatter(x=xs, y=fit[0] * xs + fit[1], mode="lines", name=f"fit (r = {r:.2f})",
                                 line=dict(color=TREND_COLOR, dash="dash")))
    fig.update_xaxes(title=METRIC_LABELS.get(metric, metric))
    fig.update_yaxes(title="test accuracy")
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return style(fig, title=title, height=400)


def paper_domain(domain: str) -> str | None:
    """The paper's column for one of our domain names, if any.

    >>> paper_domain("open-web-math"), paper_domain("Organic Chemistry"), paper_domain("arith")
    ('math', 'domain', None)
    """
    lowered = str(domain).lower()
    for key, column in (("math", "math"), ("code", "code"), ("commonsense", "commonsense"), ("chem", "domain")):
        if key in lowered:
            return column
    return None


def correlation_table(correlations: pd.DataFrame, with_paper: bool = False) -> pd.DataFrame:
    """Our correlations, rounded, with the paper's Pearson / Spearman beside them when asked.

    >>> c = pd.DataFrame({"domain": ["math"], "metric": ["distance"], "pearson": [-0.9], "spearman": [-0.8]})
    >>> correlation_table(c, with_paper=True)[["paper pearson", "paper spearman"]].values.tolist()
    [[-0.947, -0.949]]
    """
    wanted = [c for c in ("domain", "group", "metric", "pearson", "pearson_p", "spearman", "spearman_p", "n_points",
                          "window", "pearson_vs_step", "partial_given_step") if c in correlations.columns]
    table = correlations[wanted].copy()
    for column in table.select_dtypes("number").columns:
        table[column] = table[column].round(3)
    if with_paper:
        keys = [(METRIC_LABELS.get(str(m), str(m)), paper_domain(d)) for m, d in zip(table["metric"], table["domain"])]
        table["paper pearson"] = [PAPER_TABLE1.get(k, (np.nan, np.nan))[0] for k in keys]
        table["paper spearman"] = [PAPER_TABLE1.get(k, (np.nan, np.nan))[1] for k in keys]
    return table.reset_index(drop=True)


def paper_table() -> pd.DataFrame:
    """The paper's Table 1 as a frame: one row per metric, "pearson / spearman" per domain."""
    rows: dict[str, dict[str, str]] = {}
    for (metric, domain), (pearson, spearman) in PAPER_TABLE1.items():
        rows.setdefault(metric, {})[domain] = f"{pearson:.3f} / {spearman:.3f}"
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("metric").reset_index()


def table_figure(table: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Any small table as a Plotly table figure (for the report and image export)."""
    if table.empty:
        return placeholder("No rows")
    cells = [table[c].astype(str).tolist() for c in table.columns]
    fig = go.Figure(go.Table(header=dict(values=list(table.columns), fill_color="#eee", align="left"),
                             cells=dict(values=cells, align="left")))
    return style(fig, title=title, height=min(120 + 28 * len(table), 700))
