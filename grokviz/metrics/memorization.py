"""Memorisation step t* of training samples and the Pretrain@t* groups (METHOD 5).

t*_i is the earliest checkpoint t such that at every checkpoint t' >= t the sample's loss is
at most eps and within delta of its loss at the last checkpoint T; a missing loss (NaN)
never satisfies that. A sample is *memorised before T* when t* < T: t* == T alone means it
settled only at the final checkpoint, which `before_last` does not count. eps is
given, or chosen per group by `auto_eps`. Start at `memorization_table`.

This module never computes losses and never touches pathways; it only reads loss matrices
of shape (n_samples, n_steps), one column per checkpoint in ascending step order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from grokviz import names

# Columns of the memorisation table, as in names.EXPORT_COLUMNS["memorization"].
T_STAR = "t_star"
EPS = "eps"
DELTA = "delta"
NEVER_GROUP = "never"


def check_step_matrix(values: np.ndarray, steps: Sequence[int], name: str = "losses",
                      rows: str = "n_samples", column: str = "loss") -> tuple[np.ndarray, np.ndarray]:
    """A per-checkpoint matrix as float64 (rows, n_steps) and steps as a strictly ascending int
    array; errors name the matrix (`name`), its rows and what a column holds.

    >>> check_step_matrix([[1.0, 0.5]], [10, 20])[1].tolist()
    [10, 20]
    """
    values = np.asarray(values, dtype=np.float64)
    steps_arr = np.asarray(steps, dtype=np.int64)
    if values.ndim != 2:
        raise ValueError(f"{name} must have shape ({rows}, n_steps), got {values.shape}")
    if steps_arr.ndim != 1 or len(steps_arr) != values.shape[1] or len(steps_arr) == 0:
        raise ValueError(
            f"steps must list one step per {column} column ({values.shape[1]}), got {len(steps_arr)}"
        )
    if np.any(np.diff(steps_arr) <= 0):
        raise ValueError("steps must be strictly ascending")
    return values, steps_arr


def _check_inputs(losses: np.ndarray, steps: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Losses as float64 (n_samples, n_steps) and steps as a strictly ascending int array."""
    return check_step_matrix(losses, steps)


def settled(losses: np.ndarray, eps: float | np.ndarray, delta: float = 0.05) -> np.ndarray:
    """Per sample and checkpoint: loss <= eps and |loss - loss at T| <= delta (NaN: False).

    `eps` is one value or one per sample. Shape (n_samples, n_steps), dtype bool.

    >>> settled(np.array([[2.0, 0.5, 0.52]]), eps=1.0).tolist()
    [[False, True, True]]
    """
    losses = np.asarray(losses, dtype=np.float64)
    eps_col = np.asarray(eps, dtype=np.float64)
    if eps_col.ndim == 1:
        if len(eps_col) != losses.shape[0]:
            raise ValueError(
                f"eps must be a scalar or one value per sample ({losses.shape[0]}), got {len(eps_col)}"
            )
        eps_col = eps_col[:, None]  # (n_samples, 1)
    elif eps_col.ndim != 0:
        raise ValueError(f"eps must be a scalar or one value per sample, got shape {eps_col.shape}")
    if delta < 0:
        raise ValueError(f"delta must be non-negative, got {delta}")
    with np.errstate(invalid="ignore"):
        return (losses <= eps_col) & (np.abs(losses - losses[:, -1:]) <= delta)  # (n, n_steps)


def memorization_steps(
    losses: np.ndarray, steps: Sequence[int], eps: float | np.ndarray, delta: float = 0.05
) -> np.ndarray:
    """t* per sample: a step value, or names.NEVER_MEMORIZED (-1). Shape (n_samples,).

    >>> losses = np.array([[3.0, 0.53, 0.5, 0.52],   # settles at 200
    ...                    [3.0, 0.5, 2.0, 0.50],    # relapses at 300, settles at 400
    ...                    [3.0, 2.0, 1.5, 1.40]])   # never below eps
    >>> memorization_steps(losses, [100, 200, 300, 400], eps=1.0).tolist()
    [200, 400, -1]
    """
    losses, steps_arr = _check_inputs(losses, steps)
    ok = settled(losses, eps, delta)  # (n, n_steps)
    suffix_all = np.logical_and.accumulate(ok[:, ::-1], axis=1)  # (n, n_steps), reversed time
    n_settled = suffix_all.sum(axis=1)  # length of the settled suffix
    first = len(steps_arr) - n_settled  # index of t*, == n_steps when none
    padded = np.append(steps_arr, names.NEVER_MEMORIZED)
    return padded[first]


def before_last(t: np.ndarray, steps: Sequence[int]) -> np.ndarray:
    """True where a t* (or t#) lies strictly before the last checkpoint T: settling only at T does
    not count as memorised (solved), METHOD 5 and 6.

    >>> before_last(np.array([200, 400, -1]), [100, 200, 300, 400]).tolist()
    [True, False, False]
    """
    t = np.asarray(t)
    return (t != names.NEVER_MEMORIZED) & (t < steps[-1])


def _min_eps_before_last(losses: np.ndarray, delta: float) -> np.ndarray:
    """Per sample, the smallest eps at which it is memorised before T (inf if none).

    Memorised before T means settled from the second-last checkpoint on, which needs the
    delta condition there and eps >= max(loss(T-1), loss(T)).
    """
    last_two = losses[:, -2:]  # (n, 2)
    with np.errstate(invalid="ignore"):
        close = np.abs(last_two[:, 0] - last_two[:, 1]) <= delta  # False on NaN
    return np.where(close, last_two.max(axis=1), np.inf)


def auto_eps(
    losses: np.ndarray,
    steps: Sequence[int],
    delta: float = 0.05,
    low: float = 0.20,
    high: float = 0.25,
    grid_step: float = 0.1,
    max_eps: float = 50.0,
) -> float:
    """The eps of METHOD 5: smallest multiple of `grid_step` memorising low..high before T.

    The fraction memorised before T never falls as eps grows, so the first multiple (up to
    `max_eps`) whose fraction reaches `low` is returned: it lies in [low, high] when any
    multiple does. Fallback when the fraction jumps over the band: that same first multiple
    above it. When no multiple reaches `low`: the largest multiple tried.

    >>> losses = np.array([[2.0, 0.31, 0.30], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    >>> auto_eps(losses, [1, 2, 3])
    0.4
    """
    losses, _ = _check_inputs(losses, steps)
    if losses.shape[0] == 0 or losses.shape[1] < 2:
        raise ValueError(f"auto_eps needs samples and at least 2 checkpoints, got {losses.shape}")
    if not 0 <= low <= high <= 1 or grid_step <= 0 or max_eps < grid_step or delta < 0:
        raise ValueError(
            "need 0 <= low <= high <= 1, grid_step > 0, max_eps >= grid_step and delta >= 0; "
            f"got low={low}, high={high}, grid_step={grid_step}, max_eps={max_eps}, delta={delta}"
        )
    min_eps = np.sort(_min_eps_before_last(losses, delta))  # (n,)
    grid = np.round(np.arange(1, int(np.floor(max_eps / grid_step + 1e-9)) + 1) * grid_step, 12)
    fraction = np.searchsorted(min_eps, grid, side="right") / len(min_eps)  # (n_grid,)
    reached = np.flatnonzero(fraction >= low)
    return float(grid[reached[0]] if len(reached) else grid[-1])


def pretrain_group(t_star: int) -> str:
    """Group label of a memorisation step: "Pretrain@{step}", or "never".

    >>> pretrain_group(5000), pretrain_group(-1)
    ('Pretrain@5000', 'never')
    """
    return NEVER_GROUP if t_star == names.NEVER_MEMORIZED else names.PRETRAIN_GROUP.format(step=int(t_star))


def _group_eps(
    eps: str | float | Mapping[str, float], group: str, losses: np.ndarray, steps: np.ndarray, delta: float
) -> float:
    """The eps of one group: given once, given per group, or "auto"."""
    if isinstance(eps, str):
        if eps != "auto":
            raise ValueError(f'eps must be a number, a dict per group or "auto", got {eps!r}')
        return auto_eps(losses, steps, delta)
    if isinstance(eps, Mapping):
        if group not in eps:
            raise ValueError(f"eps has no value for group {group!r}")
        return float(eps[group])
    return float(eps)


def memorization_table(
    sample_ids: Sequence,
    groups: Sequence[str],
    losses: np.ndarray,
    steps: Sequence[int],
    eps: str | float | Mapping[str, float] = "auto",
    delta: float = 0.05,
) -> pd.DataFrame:
    """One row per sample: sample_id, group, t_star, eps, delta (eps chosen per group).

    >>> losses = np.array([[3.0, 0.5, 0.5], [3.0, 3.0, 3.0]])
    >>> memorization_table(["a", "b"], ["math", "math"], losses, [10, 20, 30], eps=1.0)
      sample_id group  t_star  eps  delta
    0         a  math      20  1.0   0.05
    1         b  math      -1  1.0   0.05
    """
    losses, steps_arr = _check_inputs(losses, steps)
    group_arr = np.asarray(groups, dtype=object)
    if len(sample_ids) != len(losses) or len(group_arr) != len(losses):
        raise ValueError(
            f"need one sample_id and group per loss row ({len(losses)}), "
            f"got {len(sample_ids)} and {len(group_arr)}"
        )
    t_star = np.full(len(losses), names.NEVER_MEMORIZED, dtype=np.int64)
    eps_col = np.zeros(len(losses))
    for group in pd.unique(group_arr):
        rows = group_arr == group
        eps_col[rows] = _group_eps(eps, group, losses[rows], steps_arr, delta)
        t_star[rows] = memorization_steps(losses[rows], steps_arr, eps_col[rows][0], delta)
    return pd.DataFrame({
        names.SAMPLE_ID: list(sample_ids), names.GROUP: group_arr,
        T_STAR: t_star, EPS: eps_col, DELTA: float(delta),
    })
