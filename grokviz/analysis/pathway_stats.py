"""Per checkpoint: every sample's pathway and consistency, and each group's pathway metrics.

METHOD.md 2-4 applied to one checkpoint's stored distributions. Group metrics are long-form
rows (step, group, metric, value, stderr, n_samples, n_pairs) with metrics `distance`,
`distance_layer_<l>`, `consistency`, `mean_cosine`, `loss`, `distinct_pathways`, and the
cross-domain control `cross_distance` (group "A x B"). Pure NumPy/pandas via grokviz.metrics.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.consistency import consistency
from grokviz.metrics.distance import (
    DistanceEstimate,
    cross_mean_distance,
    mean_pairwise_distance,
    per_layer_mean_distance,
)
from grokviz.metrics.pathways import layer_strings, n_kept, pathway_strings

METRIC_COLUMNS = [names.STEP, names.GROUP, "metric", "value", "stderr", "n_samples", "n_pairs"]


def step_pathways(step: int, frame: pd.DataFrame, dist: np.ndarray, router: list[np.ndarray],
                  tau: float | None, top_k: int | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Pathway table rows of one checkpoint, and the per-layer strings (n_samples, n_layers)."""
    strings = pathway_strings(dist, tau=tau, top_k=top_k)
    c_value, mean_cos = consistency(dist, router)
    table = pd.DataFrame({
        names.STEP: step, names.SAMPLE_ID: frame[names.SAMPLE_ID].to_numpy(),
        "pathway": strings, "n_kept": n_kept(dist, tau=tau, top_k=top_k),
        "consistency": c_value, "mean_cosine": mean_cos, names.LOSS: frame[names.LOSS].to_numpy(),
    })
    return table, layer_strings(dist, tau=tau, top_k=top_k)


def _row(step: int, group: str, metric: str, estimate: DistanceEstimate | float, n_samples: int) -> dict:
    if isinstance(estimate, DistanceEstimate):
        return {names.STEP: step, names.GROUP: group, "metric": metric, "value": estimate.value,
                "stderr": estimate.stderr, "n_samples": n_samples, "n_pairs": estimate.n_pairs}
    return {names.STEP: step, names.GROUP: group, "metric": metric, "value": float(estimate),
            "stderr": np.nan, "n_samples": n_samples, "n_pairs": 0}


def group_metrics(step: int, pathways: pd.DataFrame, layers: np.ndarray, groups: dict[str, np.ndarray],
                  level: str, max_pairs: int | None, seed: int, per_layer: set[str] = frozenset()) -> list[dict]:
    """Every metric of every group at one checkpoint (groups map names to sample ids); the
    per-layer distances (paper Fig. 5) only for the groups named in `per_layer`."""
    index = pd.Index(pathways[names.SAMPLE_ID])
    rows = []
    for group, members in groups.items():
        rows_of = index.get_indexer(members)
        rows_of = rows_of[rows_of >= 0]
        part = pathways.iloc[rows_of]
        strings = part["pathway"].tolist()
        n = len(strings)
        rows.append(_row(step, group, "distance",
                         mean_pairwise_distance(strings, level, max_pairs, seed), n))
        if group in per_layer:
            for layer, estimate in enumerate(per_layer_mean_distance(layers[rows_of], level, max_pairs, seed)):
                rows.append(_row(step, group, f"distance_layer_{layer}", estimate, n))
        for metric in ("consistency", "mean_cosine", names.LOSS):
            rows.append(_row(step, group, metric, part[metric].mean() if n else np.nan, n))
        rows.append(_row(step, group, "distinct_pathways", len(set(strings)), n))
    return rows


def cross_group_metrics(step: int, pathways: pd.DataFrame, domains: dict[str, np.ndarray], level: str,
                        max_pairs: int | None, seed: int) -> list[dict]:
    """Control: mean distance between memorised samples of two different domains."""
    by_id = pathways.set_index(names.SAMPLE_ID)["pathway"]
    rows = []
    for (a, ids_a), (b, ids_b) in itertools.combinations(sorted(domains.items()), 2):
        estimate = cross_mean_distance(by_id.reindex(ids_a).dropna().tolist(),
                                       by_id.reindex(ids_b).dropna().tolist(), level, max_pairs, seed)
        rows.append(_row(step, f"{a} x {b}", "cross_distance", estimate, len(ids_a) + len(ids_b)))
    return rows


def metric_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)
