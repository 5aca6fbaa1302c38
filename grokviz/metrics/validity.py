"""Uncertainty of a metric-accuracy correlation over checkpoints (METHOD 11.2). Pure NumPy.

* `bootstrap_ci(x, y)`: percentile bootstrap interval of Pearson r, resampling checkpoints
  (the (x, y) pairs) with replacement, B = 1000, fixed seed.
* `bootstrap_ci(x, y, control=step)`: the same for the partial correlation of x and y given
  the control (both residualised on a line in the control inside each resample).
* `loo_range(x, y[, control])`: min and max of r (or partial r) leaving one checkpoint out.
* `permutation_p(x, y[, control])`: two-sided permutation p-value, shuffling the metric's
  checkpoint order, B = 1000, p = (1 + #{|r_perm| >= |r_obs|}) / (B + 1).

Caveat: checkpoints of one run are a time series, not independent draws; resampling them as
pairs ignores their autocorrelation, so intervals are optimistic when the series are smooth
(`block` > 1 gives a moving-block bootstrap as a check).  Shuffling the metric for the partial
correlation tests "no association at all", not "no association beyond the step".
Resamples where a correlation is undefined (a constant column) are dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

DEFAULT_B = 1000
DEFAULT_SEED = 0


def _clean(x, y, control=None):
    cols = [np.asarray(v, dtype=np.float64) for v in ((x, y) if control is None else (x, y, control))]
    if any(c.ndim != 1 for c in cols) or len({len(c) for c in cols}) != 1:
        raise ValueError("series must be 1-d and of equal length")
    data = np.column_stack(cols)
    return data[np.all(np.isfinite(data), axis=1)]


def _rows_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of a with the same row of b; NaN where a row is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    saa = (a * a).sum(-1)
    sbb = (b * b).sum(-1)
    sab = (a * b).sum(-1)
    scale_a = np.maximum(np.abs(a).max(-1), 1e-300)
    scale_b = np.maximum(np.abs(b).max(-1), 1e-300)
    ok = (saa > 1e-24 * scale_a**2 * a.shape[-1]) & (sbb > 1e-24 * scale_b**2 * b.shape[-1])
    with np.errstate(all="ignore"):
        r = sab / np.sqrt(saa * sbb)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def _residualise(v: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Residuals of each row of v after a least-squares line in the same row of c."""
    cc = c - c.mean(axis=-1, keepdims=True)
    vc = v - v.mean(axis=-1, keepdims=True)
    scc = (cc * cc).sum(-1, keepdims=True)
    with np.errstate(all="ignore"):
        beta = np.where(scc > 0, (cc * vc).sum(-1, keepdims=True) / scc, 0.0)
    return vc - beta * cc


def _stat(xs: np.ndarray, ys: np.ndarray, cs: np.ndarray | None) -> np.ndarray:
    """r (cs None) or partial r given cs, row-wise over resamples (rows)."""
    if cs is None:
        return _rows_corr(xs, ys)
    out = _rows_corr(_residualise(xs, cs), _residualise(ys, cs))
    const_c = np.ptp(cs, axis=-1) == 0
    return np.where(const_c, np.nan, out)


def correlation(x, y, control=None) -> float:
    """Pearson r of x and y, or their partial correlation given `control` (NaN-safe rows)."""
    data = _clean(x, y, control)
    if len(data) < (3 if control is None else 4):
        return float("nan")
    c = None if control is None else data[None, :, 2]
    return float(_stat(data[None, :, 0], data[None, :, 1], c)[0])


@dataclasses.dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n_valid: int  # resamples that gave a defined value

    def excludes_zero(self) -> bool:
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))


def _indices(n: int, B: int, rng: np.random.Generator, block: int) -> np.ndarray:
    if block <= 1:
        return rng.integers(0, n, size=(B, n))
    block = min(block, n)
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(B, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(B, -1)
    return idx[:, :n]


def bootstrap_ci(x: Sequence[float], y: Sequence[float], control: Sequence[float] | None = None,
                 B: int = DEFAULT_B, level: float = 0.95, seed: int = DEFAULT_SEED,
                 block: int = 1) -> Interval:
    """Percentile bootstrap interval of r (or partial r given `control`), resampling checkpoints.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=40); y = x + rng.normal(size=40)
    >>> ci = bootstrap_ci(x, y); ci.low < ci.estimate < ci.high and ci.excludes_zero()
    True
    """
    data = _clean(x, y, control)
    est = correlation(*(data.T))
    n = len(data)
    if n < (3 if control is None else 4) or not np.isfinite(est):
        return Interval(est, float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = _indices(n, B, rng, block)  # (B, n)
    xs, ys = data[idx, 0], data[idx, 1]
    cs = None if control is None else data[idx, 2]
    vals = _stat(xs, ys, cs)
    vals = vals[np.isfinite(vals)]
    if len(vals) < max(10, B // 10):
        return Interval(est, float("nan"), float("nan"), len(vals))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(vals, [alpha, 1 - alpha])
    return Interval(est, float(lo), float(hi), len(vals))


def loo_range(x: Sequence[float], y: Sequence[float], control: Sequence[float] | None = None
              ) -> tuple[float, float]:
    """Min and max of r (or partial r) over the series each missing one checkpoint.

    >>> lo, hi = loo_range([1, 2, 3, 4, 5.5], [1, 2, 3, 4, 5]); 0.99 < lo <= hi <= 1
    True
    """
    data = _clean(x, y, control)
    n = len(data)
    if n < (4 if control is None else 5):
        return float("nan"), float("nan")
    keep = ~np.eye(n, dtype=bool)  # row i leaves out checkpoint i
    sub = np.stack([data[keep[i]] for i in range(n)])  # (n, n-1, cols)
    cs = None if control is None else sub[:, :, 2]
    vals = _stat(sub[:, :, 0], sub[:, :, 1], cs)
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return float("nan"), float("nan")
    return float(vals.min()), float(vals.max())


def permutation_p(x: Sequence[float], y: Sequence[float], control: Sequence[float] | None = None,
                  B: int = DEFAULT_B, seed: int = DEFAULT_SEED) -> float:
    """Two-sided permutation p-value of r (or partial r): the metric x is shuffled over
    checkpoints (y and the control keep their order).

    >>> permutation_p(np.arange(30.0), np.arange(30.0) ** 1.1) < 0.01
    True
    """
    data = _clean(x, y, control)
    est = correlation(*(data.T))
    n = len(data)
    if not np.isfinite(est):
        return float("nan")
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random((B, n)), axis=1)  # (B, n) permutations
    xs = data[perm, 0]
    ys = np.broadcast_to(data[:, 1], (B, n))
    cs = None if control is None else np.broadcast_to(data[:, 2], (B, n))
    vals = _stat(xs, ys, cs)
    vals = np.where(np.isfinite(vals), vals, 0.0)
    return float((1 + np.sum(np.abs(vals) >= abs(est) - 1e-12)) / (B + 1))
