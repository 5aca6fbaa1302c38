"""Which samples form which group: data groups (domains), Pretrain@t and Test@t groups.

METHOD.md 5-6: samples memorised at the same checkpoint form `Pretrain@t` within their
domain (named `DOMAIN/Pretrain@t`); test items generalised at the same checkpoint form
`DOMAIN/Test@t`. Pure pandas; no store, no plotting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.generalization import generalization_table
from grokviz.metrics.memorization import memorization_table, pretrain_group


def loss_matrix(losses: pd.DataFrame, sample_ids: list[str], steps: list[int]) -> np.ndarray:
    """(n_samples, n_steps) losses in the given orders; NaN where a checkpoint lacks a sample."""
    wide = losses.pivot_table(index=names.SAMPLE_ID, columns=names.STEP, values=names.LOSS,
                              aggfunc="first")
    return wide.reindex(index=sample_ids, columns=steps).to_numpy(dtype=np.float64)


def memorization(run: str, samples: pd.DataFrame, losses: pd.DataFrame, steps: list[int],
                 eps: str | float, delta: float) -> pd.DataFrame:
    """t* of every training sample, eps chosen per domain; plus its Pretrain group name."""
    train = samples[samples[names.SPLIT] == names.Split.TRAIN.value]
    ids = train[names.SAMPLE_ID].tolist()
    table = memorization_table(ids, train[names.GROUP].tolist(), loss_matrix(losses, ids, steps),
                               steps, eps=eps, delta=delta)
    table.insert(0, names.RUN, run)
    table["pretrain_group"] = [f"{g}/{pretrain_group(t)}" for g, t in
                               zip(table[names.GROUP], table["t_star"])]
    return table


def correctness_matrix(accuracy: pd.DataFrame, steps: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """Items (item_id, group) and their (n_items, n_steps) 0/1 correctness; NaN if unevaluated."""
    wide = accuracy.pivot_table(index=[names.ITEM_ID, names.GROUP], columns=names.STEP,
                                values=names.CORRECT, aggfunc="max")
    wide = wide.reindex(columns=steps)
    return wide.index.to_frame(index=False), wide.to_numpy(dtype=np.float64)


def generalization(run: str, accuracy: pd.DataFrame, steps: list[int]) -> pd.DataFrame:
    """t# of every held-out item (split test) with its Test group name."""
    held_out = accuracy[accuracy[names.SPLIT] == names.Split.TEST.value]
    columns = [names.RUN, names.ITEM_ID, names.GROUP, "t_hash", "test_group"]
    if held_out.empty:
        return pd.DataFrame(columns=columns)
    items, correct = correctness_matrix(held_out, steps)
    evaluated = ~np.isnan(correct).all(axis=0)
    table = generalization_table(items[names.ITEM_ID].tolist(), items[names.GROUP].tolist(),
                                 np.nan_to_num(correct[:, evaluated]), list(np.asarray(steps)[evaluated]))
    table.insert(0, names.RUN, run)
    table["test_group"] = [f"{g}/Test@{t}" if t != names.NEVER_MEMORIZED else f"{g}/never"
                           for g, t in zip(table[names.GROUP], table["t_hash"])]
    return table[columns]


def accuracy_series(run: str, accuracy: pd.DataFrame, generalized: pd.DataFrame) -> pd.DataFrame:
    """Mean correctness per (group, split, step); Test@t groups appear as their own groups."""
    columns = [names.RUN, names.STEP, names.GROUP, names.SPLIT, "accuracy", "n_items"]
    if accuracy.empty:
        return pd.DataFrame(columns=columns)
    by_group = accuracy.groupby([names.GROUP, names.SPLIT, names.STEP])[names.CORRECT]
    frames = [by_group.agg(accuracy="mean", n_items="size").reset_index()]
    if not generalized.empty:
        tagged = accuracy.merge(generalized[[names.ITEM_ID, names.GROUP, "test_group"]],
                                on=[names.ITEM_ID, names.GROUP])
        tagged = tagged[tagged[names.SPLIT] == names.Split.TEST.value]
        per_test = tagged.groupby(["test_group", names.SPLIT, names.STEP])[names.CORRECT]
        frames.append(per_test.agg(accuracy="mean", n_items="size").reset_index()
                      .rename(columns={"test_group": names.GROUP}))
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, names.RUN, run)
    return out[columns]


def metric_groups(memorized: pd.DataFrame) -> dict[str, np.ndarray]:
    """Group name -> sample ids over which pathway metrics are computed: each domain's
    memorised samples, and each `DOMAIN/Pretrain@t` group."""
    done = memorized[memorized["t_star"] != names.NEVER_MEMORIZED]
    groups = {g: f[names.SAMPLE_ID].to_numpy() for g, f in done.groupby(names.GROUP)}
    groups |= {g: f[names.SAMPLE_ID].to_numpy() for g, f in done.groupby("pretrain_group")}
    return groups
