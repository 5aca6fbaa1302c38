"""Frames the figures need, derived from query results: pure pandas / NumPy, no store, no Streamlit.

The dashboard's cache, the report and the Python API query the store; this module shapes what
they got: memorisation steps recomputed
with the page's eps / delta (through `grokviz.metrics.memorization`), per-sample flow weights
for the Sankey, nearest samples by pathway edit distance, the map's colour column, and the
series of one Pretrain@p -> Test@q pair. Every function here is testable on small frames.
Start at `memorization_frame`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from grokviz.metrics import memorization
from grokviz.metrics import pathways as pathway_metrics

T_STAR_COLUMNS = ["sample_id", "group", "t_star", "eps"]


def memorization_frame(losses: pd.DataFrame, eps: str | float = "auto", delta: float = 0.05) -> pd.DataFrame:
    """sample_id, group, t_star, eps of the training samples, eps chosen per group when "auto".

    >>> losses = pd.DataFrame({"step": [1, 2, 3] * 2, "sample_id": ["a"] * 3 + ["b"] * 3, "group": "g",
    ...                        "split": "train", "loss": [3.0, 0.5, 0.5, 3.0, 3.0, 3.0]})
    >>> memorization_frame(losses, eps=1.0)["t_star"].tolist()
    [2, -1]
    """
    train = losses[losses["split"] == "train"]
    wide = train.pivot_table(index=["group", "sample_id"], columns="step", values="loss").sort_index(axis=1)
    if wide.shape[1] < 2:
        return pd.DataFrame(columns=T_STAR_COLUMNS)
    parts = []
    for group, block in wide.groupby(level="group"):
        values, steps = block.to_numpy(), list(block.columns)  # (n_samples, n_steps)
        group_eps = memorization.auto_eps(values, steps, delta) if eps == "auto" else float(eps)
        parts.append(pd.DataFrame({"sample_id": block.index.get_level_values("sample_id"), "group": group,
                                   "t_star": memorization.memorization_steps(values, steps, group_eps, delta),
                                   "eps": group_eps}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=T_STAR_COLUMNS)


def flow_weights(dist: np.ndarray, tau: float | None) -> np.ndarray:
    """Per-sample Sankey weights (n, L, E): one-hot argmax (tau None) or tau-kept, renormalised.

    >>> flow_weights(np.array([[[0.1, 0.6, 0.3]]]), None).tolist()
    [[[0.0, 1.0, 0.0]]]
    >>> flow_weights(np.array([[[0.1, 0.6, 0.3]]]), 0.7).astype(float).round(3).tolist()
    [[[0.0, 0.667, 0.333]]]
    """
    weights = np.zeros(dist.shape, dtype=np.float32)  # float32: 40,000 samples x 16 x 64 is 164 MB
    if len(dist) == 0:
        return weights
    if tau is None:
        np.put_along_axis(weights, dist.argmax(axis=2)[..., None], 1.0, axis=2)
        return weights
    np.copyto(weights, dist, where=pathway_metrics.kept_mask(dist, tau=tau))  # (n, L, E)
    weights /= weights.sum(axis=2, keepdims=True)
    return weights


def nearest_pathways(table: pd.DataFrame, sample_id: str, n: int = 10) -> pd.DataFrame:
    """The n rows of `table` (sample_id, group, pathway) closest in Levenshtein distance to one sample.

    >>> t = pd.DataFrame({"sample_id": ["a", "b", "c"], "group": "g", "pathway": ["1,2-3", "1,2-4", "7,8-9"]})
    >>> nearest_pathways(t, "a", 1)[["sample_id", "distance"]].values.tolist()
    [['b', 1]]
    """
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    own = table.loc[table["sample_id"] == sample_id, "pathway"]
    if own.empty:
        return pd.DataFrame(columns=["sample_id", "group", "distance", "pathway"])
    dist = process.cdist([own.iloc[0]], table["pathway"].tolist(), scorer=Levenshtein.distance, dtype=np.int32)[0]
    others = table.assign(distance=dist)[table["sample_id"] != sample_id]
    return others.nsmallest(n, "distance", keep="first")[["sample_id", "group", "distance", "pathway"]]


def label_step(label: str) -> int | None:
    """The step of a group label like "Pretrain@5000" or "Test@125000".

    >>> label_step("Pretrain@5000"), label_step("math")
    (5000, None)
    """
    match = re.search(r"@(\d+)$", str(label))
    return int(match[1]) if match else None


def pair_labels(pairs: pd.DataFrame | None) -> list[str]:
    """"domain: Pretrain@p -> Test@q" for each row of the pairs table.

    >>> pair_labels(pd.DataFrame({"domain": ["math"], "train_group": ["Pretrain@1"], "test_group": ["Test@3"]}))
    ['math: Pretrain@1 -> Test@3']
    """
    if pairs is None or pairs.empty:
        return []
    return [f"{r.domain}: {r.train_group} -> {r.test_group}" for r in pairs.itertuples(index=False)]


def pair_members(memorized: pd.DataFrame | None, domain: str, t_mem: int | None) -> list[str]:
    """Sample ids of Pretrain@t_mem in `domain` (any group when the domain has none)."""
    if memorized is None or memorized.empty or t_mem is None:
        return []
    at = memorized[memorized["t_star"] == t_mem]
    in_domain = at[at["group"].astype(str) == str(domain)]
    return (in_domain if len(in_domain) else at)["sample_id"].tolist()


def pair_series(pair: Any, losses: pd.DataFrame, memorized: pd.DataFrame | None, accuracy: pd.DataFrame,
                group_metrics: pd.DataFrame | None) -> dict[str, Any]:
    """Everything the grokking page draws for one pair row (domain, train_group, test_group).

    `accuracy` is (step, accuracy) for the test group; `group_metrics` rows of the train group
    (or of the domain when the train group has none) become `metrics`.
    """
    t_mem, t_gen = label_step(pair.train_group), label_step(pair.test_group)
    members = pair_members(memorized, pair.domain, t_mem)
    loss = losses[losses["sample_id"].isin(members)].groupby("step", as_index=False)["loss"].median()
    metrics = pd.DataFrame(columns=["step", "metric", "value", "stderr"])
    if group_metrics is not None and not group_metrics.empty:
        for name in (pair.train_group, pair.domain):
            rows = group_metrics[group_metrics["group"].astype(str) == str(name)]
            if len(rows):
                metrics = rows
                break
    label = f"{pair.domain}: {pair.train_group} -> {pair.test_group}"
    return {"label": label, "domain": pair.domain, "t_mem": t_mem, "t_gen": t_gen, "loss": loss,
            "accuracy": accuracy, "metrics": metrics, "n_members": len(members)}


def color_points(points: pd.DataFrame, color_by: str, extra: pd.DataFrame) -> pd.DataFrame:
    """The map's points with the colour column merged in (on sample_id, and step when `extra` has it).

    >>> pts = pd.DataFrame({"step": [1], "sample_id": ["a"], "x": [0.0], "y": [0.0]})
    >>> color_points(pts, "t_star", pd.DataFrame({"sample_id": ["a"], "t_star": [-1]}))["t_star"].isna().tolist()
    [True]
    """
    keys = ["step", "sample_id"] if "step" in extra.columns else ["sample_id"]
    extra = extra[[*keys, color_by]].drop_duplicates(keys)
    if color_by == "t_star":
        extra = extra.assign(t_star=extra["t_star"].where(extra["t_star"] >= 0))
    return points.merge(extra, on=keys, how="left")


def pathways_from_routing(routing: pd.DataFrame, tau: float) -> pd.DataFrame:
    """step, pathway of one sample from its routing rows (step, layer, expert, weight; sorted)."""
    steps = sorted(routing["step"].unique())
    if not steps:
        return pd.DataFrame(columns=["step", "pathway"])
    dist = routing["weight"].to_numpy().reshape(len(steps), routing["layer"].max() + 1, -1)  # (T, L, E)
    return pd.DataFrame({"step": steps, "pathway": pathway_metrics.pathway_strings(dist, tau=tau)})
