"""What a finished demo run shows, per task: the milestones of its accuracy curves, what `analyze`
found, and how the pathway metrics and training loss correlate with held-out accuracy.

Pure: takes the run's `accuracy` table and the analysis tables `memorization`, `pairs` and
`correlations` as DataFrames (read them with `grokviz.results`), returns one row per task.
`grokviz demo` prints it as Markdown; `benchmarks/demo_variants.py` compares variants with it.
Start at `findings`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.analysis import groups

MEMORISED = 0.99  # training accuracy above which a task counts as memorised (the bar)
GENERALISED = 0.90  # held-out accuracy above which it counts as generalised
# mean_cosine beside consistency: with 2 MoE layers there is one layer cosine c, and the paper's
# C = 1 - c / (c + 1e-8) is ~0 whatever the routing (METHOD.md 4), so only mean_cosine is informative.
METRICS = ("distance", "consistency", "mean_cosine", "training_loss")

N_MILESTONE_COLUMNS = 8  # task, the accuracy milestones, then what analyze found
COLUMNS = ["task", "memorized_at", "generalised_at", "checkpoints_between", "final_heldout",
           "median_t_star", "pair", "pair_delay",
           *[f"{m}_{c}" for m in METRICS for c in ("pearson", "spearman", "vs_step")]]


def accuracy_curves(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Mean correctness per (group, split, step) from the per-item `accuracy` table (the domain
    rows of `analyze`'s accuracy_series)."""
    series = groups.accuracy_series("", accuracy, pd.DataFrame())
    return series[[names.GROUP, names.SPLIT, names.STEP, "accuracy"]]


def first_step_above(curve: pd.DataFrame, bar: float) -> int | None:
    """The first step whose accuracy exceeds `bar` (curve: step, accuracy), None if none does.

    >>> first_step_above(pd.DataFrame({"step": [0, 10, 20], "accuracy": [0.1, 0.95, 0.5]}), 0.9)
    10
    """
    above = curve.sort_values(names.STEP)
    above = above[above["accuracy"] > bar]
    return int(above[names.STEP].iloc[0]) if len(above) else None


def milestones(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Per task: memorized_at, generalised_at, checkpoints_between (checkpoints from the first
    to just before the second, the issue's "at least 5 checkpoints before"), final_heldout."""
    curves = accuracy_curves(accuracy)
    steps = sorted(curves[names.STEP].unique())
    rows = []
    for task in sorted(curves[names.GROUP].unique()):
        own = curves[curves[names.GROUP] == task]
        train = own[own[names.SPLIT] == names.Split.TRAIN.value]
        test = own[own[names.SPLIT] == names.Split.TEST.value].sort_values(names.STEP)
        mem, gen = first_step_above(train, MEMORISED), first_step_above(test, GENERALISED)
        between = (sum(1 for s in steps if mem <= s < gen) if mem is not None and gen is not None else None)
        rows.append({"task": task, "memorized_at": mem, "generalised_at": gen, "checkpoints_between": between,
                     "final_heldout": float(test["accuracy"].iloc[-1]) if len(test) else np.nan})
    table = pd.DataFrame(rows, columns=COLUMNS[:5])
    return table.astype({c: "Int64" for c in COLUMNS[1:4]})


def analysis_view(memorization: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per task: the median memorisation step t* of its memorised training samples, its largest-similarity
    pair `Pretrain@p -> Test@q` with the pair's delay, as `analyze` found them."""
    rows = []
    for task, own in memorization.groupby(names.GROUP):
        t_star = own.loc[own["t_star"] != names.NEVER_MEMORIZED, "t_star"]
        best = pairs[pairs["domain"] == task].sort_values("similarity", ascending=False).head(1)
        rows.append({"task": task, "median_t_star": float(t_star.median()) if len(t_star) else np.nan,
                     "pair": f"{best['train_group'].iloc[0]} -> {best['test_group'].iloc[0]}" if len(best) else "",
                     "pair_delay": float(best["delay"].iloc[0]) if len(best) else np.nan})
    return pd.DataFrame(rows, columns=["task", "median_t_star", "pair", "pair_delay"])


def correlation_view(correlations: pd.DataFrame) -> pd.DataFrame:
    """Per task: Pearson and Spearman of each metric of its memorised samples with its held-out
    accuracy over checkpoints, and the metric's Pearson with the step itself (a time-trend control)."""
    own = correlations[(correlations[names.GROUP] == correlations["domain"]) & correlations["metric"].isin(METRICS)]
    rows = []
    for task, part in own.groupby("domain"):
        row: dict[str, object] = {"task": task}
        for metric in METRICS:
            hit = part[part["metric"] == metric]
            for column, source in (("pearson", "pearson"), ("spearman", "spearman"), ("vs_step", "pearson_vs_step")):
                row[f"{metric}_{column}"] = float(hit[source].iloc[0]) if len(hit) else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["task", *COLUMNS[N_MILESTONE_COLUMNS:]])


def findings(accuracy: pd.DataFrame, memorization: pd.DataFrame, pairs: pd.DataFrame,
             correlations: pd.DataFrame) -> pd.DataFrame:
    """One row per task with every column of `COLUMNS`."""
    table = milestones(accuracy)
    for extra in (analysis_view(memorization, pairs), correlation_view(correlations)):
        table = table.merge(extra, on="task", how="left")
    return table[COLUMNS]


def to_markdown(table: pd.DataFrame) -> str:
    """A Markdown table (fractions to 2 decimals, steps as integers, missing as a dash)."""
    def cell(value: object) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return "-"
        if isinstance(value, (float, np.floating)):
            return f"{value:.2f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)
