"""Routing health over training (METHOD.md 10) from the stored per-token routes.

Router saturation per layer against the final and the previous checkpoint (top-1 and top-k
overlap), expert co-activation over all pairs in a token's top-k, expert load and its
coefficient of variation, top-k mass; entropy of the token-averaged distributions comes from
the per-step loop in `run.py`. Pure pandas/NumPy via grokviz.metrics.health.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.health import coactivation, expert_load, load_cv, saturation

KEYS = [names.SAMPLE_ID, names.POS]


def topk_arrays(routes: pd.DataFrame, steps: list[int]) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per step: expert ids and weights, (n_tokens, n_layers, top_k), tokens aligned across
    steps (only tokens present at every step are kept)."""
    layers = routes[names.LAYER].nunique()  # decoder-layer indices need not be 0..L-1
    top_k = int(routes[names.RANK].max()) + 1
    common = None
    for _, part in routes.groupby(names.STEP):
        keys = pd.MultiIndex.from_frame(part[KEYS].drop_duplicates())
        common = keys if common is None else common.intersection(keys)
    ids, weights = {}, {}
    for step, part in routes.groupby(names.STEP):
        part = part.sort_values([*KEYS, names.LAYER, names.RANK])
        token = pd.MultiIndex.from_frame(part[KEYS])
        part = part[token.isin(common)]
        ids[int(step)] = part[names.EXPERT].to_numpy().reshape(-1, layers, top_k)
        weights[int(step)] = part[names.WEIGHT].to_numpy().reshape(-1, layers, top_k)
    return ids, weights


def saturation_table(run: str, ids: dict[int, np.ndarray], top_k: int, labels: list[int]) -> pd.DataFrame:
    """Rows (run, step, layer, reference, top_k, value) for reference final and previous; `labels`
    are the decoder-layer indices of the MoE layers."""
    steps = sorted(ids)
    rows = []
    for k in sorted({1, top_k}):
        for i, step in enumerate(steps):
            references = {"final": steps[-1]} | ({"previous": steps[i - 1]} if i else {})
            for reference, ref_step in references.items():
                values = saturation(ids[step], ids[ref_step], top_k=k)
                rows += [{names.RUN: run, names.STEP: step, names.LAYER: layer, "reference": reference,
                          "top_k": k, "value": float(v)} for layer, v in zip(labels, values)]
    return pd.DataFrame(rows, columns=[names.RUN, names.STEP, names.LAYER, "reference", "top_k", "value"])


def load_tables(run: str, ids: dict[int, np.ndarray], weights: dict[int, np.ndarray],
                n_experts: int, labels: list[int]) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Co-activation (run, step, layer, expert_a, expert_b, p), load (run, step, layer, expert,
    share) and health rows (load_cv, top_k_mass) per step and decoder layer (`labels`)."""
    co_frames, load_frames, health = [], [], []
    grid_a, grid_b = np.meshgrid(np.arange(n_experts), np.arange(n_experts), indexing="ij")
    for step in sorted(ids):
        co = coactivation(ids[step], n_experts)  # shape: (layers, E, E)
        load = expert_load(ids[step], n_experts)  # shape: (layers, E)
        for ordinal, layer in enumerate(labels):
            keep = co[ordinal] > 0
            co_frames.append(pd.DataFrame({names.RUN: run, names.STEP: step, names.LAYER: layer,
                                           "expert_a": grid_a[keep], "expert_b": grid_b[keep],
                                           "p": co[ordinal][keep]}))
            load_frames.append(pd.DataFrame({names.RUN: run, names.STEP: step, names.LAYER: layer,
                                             names.EXPERT: np.arange(n_experts), "share": load[ordinal]}))
        mass = weights[step].sum(axis=-1).mean(axis=0)  # shape: (layers,)
        for layer, cv, m in zip(labels, load_cv(load), mass):
            health += [{names.RUN: run, names.STEP: step, names.LAYER: layer, "metric": "load_cv", "value": float(cv)},
                       {names.RUN: run, names.STEP: step, names.LAYER: layer, "metric": "top_k_mass", "value": float(m)}]
    return pd.concat(co_frames, ignore_index=True), pd.concat(load_frames, ignore_index=True), health
