"""Which samples form which group: data groups (domains), Pretrain@t and Test@t groups.

METHOD.md 5-6: samples memorised at the same checkpoint form `Pretrain@t` within their
domain (named `DOMAIN/Pretrain@t`); test items generalised at the same checkpoint form
`DOMAIN/Test@t`. Memorised means t* < T and generalised t# < T, the last checkpoint T: settling
only at T holds trivially there and forms no group (`include_last=True` keeps grokviz 0.1's
reading, which counted it). Pure pandas; no store, no plotting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.metrics.generalization import generalization_table
from grokviz.metrics.memorization import before_last, memorization_table, pretrain_group

NOT_MEMORIZED = "not-memorized"  # the Pretrain group of samples not memorised before T
NOT_GENERALIZED = "not-generalized"  # the Test group of items not solved before T


def loss_matrix(losses: pd.DataFrame, sample_ids: list[str], steps: list[int]) -> np.ndarray:
    """(n_samples, n_steps) losses in the given orders; NaN where a checkpoint lacks a sample."""
    wide = losses.pivot_table(index=names.SAMPLE_ID, columns=names.STEP, values=names.LOSS,
                              aggfunc="first")
    return wide.reindex(index=sample_ids, columns=steps).to_numpy(dtype=np.float64)


def counted(t: np.ndarray, steps: list[int], include_last: bool = False) -> np.ndarray:
    """Which t* (or t#) count as memorised (generalised): before T, or at T too when asked.

    >>> counted(np.array([200, 300, -1]), [100, 200, 300]).tolist()
    [True, False, False]
    >>> counted(np.array([200, 300, -1]), [100, 200, 300], include_last=True).tolist()
    [True, True, False]
    """
    t = np.asarray(t)
    return (t != names.NEVER_MEMORIZED) if include_last else before_last(t, steps)


def memorization(run: str, samples: pd.DataFrame, losses: pd.DataFrame, steps: list[int],
                 eps: str | float, delta: float, include_last: bool = False) -> pd.DataFrame:
    """t* of every training sample, eps chosen per domain; whether it counts as memorised, and
    its Pretrain group name (DOMAIN/Pretrain@t, or DOMAIN/not-memorized)."""
    train = samples[samples[names.SPLIT] == names.Split.TRAIN.value]
    ids = train[names.SAMPLE_ID].tolist()
    table = memorization_table(ids, train[names.GROUP].tolist(), loss_matrix(losses, ids, steps),
                               steps, eps=eps, delta=delta)
    table.insert(0, names.RUN, run)
    table["memorized"] = counted(table["t_star"].to_numpy(), steps, include_last)
    table["pretrain_group"] = [f"{g}/{pretrain_group(t)}" if ok else f"{g}/{NOT_MEMORIZED}"
                               for g, t, ok in zip(table[names.GROUP], table["t_star"], table["memorized"])]
    return table


def correctness_matrix(accuracy: pd.DataFrame, steps: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """Items (item_id, group) and their (n_items, n_steps) 0/1 correctness; NaN if unevaluated."""
    wide = accuracy.pivot_table(index=[names.ITEM_ID, names.GROUP], columns=names.STEP,
                                values=names.CORRECT, aggfunc="max")
    wide = wide.reindex(columns=steps)
    return wide.index.to_frame(index=False), wide.to_numpy(dtype=np.float64)


def generalization(run: str, accuracy: pd.DataFrame, steps: list[int], include_last: bool = False) -> pd.DataFrame:
    """t# of every held-out item (split test) with its Test group name; an item not evaluated at a
    checkpoint is missing there, not wrong (METHOD 6)."""
    held_out = accuracy[accuracy[names.SPLIT] == names.Split.TEST.value]
    columns = [names.RUN, names.ITEM_ID, names.GROUP, "t_hash", "generalized", "test_group"]
    if held_out.empty:
        return pd.DataFrame(columns=columns)
    items, correct = correctness_matrix(held_out, steps)
    evaluated = ~np.isnan(correct).all(axis=0)  # checkpoints where at least one item was scored
    kept = list(np.asarray(steps)[evaluated])
    table = generalization_table(items[names.ITEM_ID].tolist(), items[names.GROUP].tolist(),
                                 correct[:, evaluated], kept)
    table.insert(0, names.RUN, run)
    table["generalized"] = counted(table["t_hash"].to_numpy(), kept, include_last)
    table["test_group"] = [f"{g}/Test@{t}" if ok else f"{g}/{NOT_GENERALIZED}"
                           for g, t, ok in zip(table[names.GROUP], table["t_hash"], table["generalized"])]
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
    done = memorized[memorized["memorized"]]
    groups = {g: f[names.SAMPLE_ID].to_numpy() for g, f in done.groupby(names.GROUP)}
    groups |= {g: f[names.SAMPLE_ID].to_numpy() for g, f in done.groupby("pretrain_group")}
    return groups


def start_steps(memorized: pd.DataFrame, losses: pd.DataFrame, steps: list[int],
                metric_groups: dict[str, np.ndarray]) -> dict[str, int]:
    """Where each group's post-memorisation window starts (onsets are looked for from here on): a
    Pretrain@t group at t; a domain at the first checkpoint where half of its memorised samples
    have a loss at or below their eps (training data only: no accuracy is used)."""
    starts: dict[str, int] = {}
    eps = memorized.set_index(names.SAMPLE_ID)["eps"]
    for group, ids in metric_groups.items():
        if "/" in group:
            starts[group] = int(group.rsplit("@", 1)[1])
            continue
        matrix = loss_matrix(losses, list(ids), steps)  # (n, n_steps)
        with np.errstate(invalid="ignore"):
            below = (matrix <= eps.reindex(list(ids)).to_numpy()[:, None]).mean(axis=0)  # (n_steps,)
        reached = np.flatnonzero(below >= 0.5)
        starts[group] = int(steps[reached[0]]) if len(reached) else int(steps[0])
    return starts
