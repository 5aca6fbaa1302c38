"""Onsets (METHOD 11.5): where a group's routing metric starts to change after memorisation,
found from routing alone, and the accuracy onset it is compared with. Pure NumPy; the routing
detector never sees accuracy. Start at `routing_onset`.

The rule (fixed on synthetic series only: `benchmarks/calibrate_onset.py`; never tuned on the demo):

1. Keep the checkpoints with step >= `start_step` (the task's memorisation step) and a finite
   value.  Fewer than MIN_POINTS (6) points: no onset.
2. Fit (a) a straight line y = a + b * step (k = 2 parameters) and (b) a logistic step
   y = lo + d * sigmoid((step - t0) / w) (k = 4) by least squares.  The logistic is found by
   grid search: t0 over the midpoints between consecutive kept checkpoints, w over
   WIDTH_FRACTIONS * (last step - first step) (log-spaced, 0.2% to 50% of the span); for each
   (t0, w) the linear parameters lo, d are solved exactly.  The best (t0, w) is the one with
   the smallest residual sum of squares.
3. BIC = n * log(RSS / n) + k * log(n), with RSS floored at n * (NOISE_FLOOR * scale)^2,
   scale = peak-to-peak of the kept values (1 if that is 0), so a noise-free line or step
   never gives log(0).
4. An onset is reported only if BIC(line) - BIC(logistic) > BIC_MARGIN (= 10), and t0 lies
   strictly inside the observed range, meaning at least MIN_SIDE (2) kept checkpoints on each
   side of t0 (a step that only separates the first or last point is an outlier, not a change).
5. The onset is the first kept checkpoint at or after t0.

BIC_MARGIN and the grids were chosen on synthetic series (`benchmarks/calibrate_onset.py`): with
BIC_MARGIN = 10 the false-onset rate on pure Gaussian noise and on a linear trend plus noise is
at most about 1-2% for 6 to 60 points with the demo's uneven checkpoint spacing, and logistic
drops of 5+ noise standard deviations are located within one checkpoint.

`accuracy_onset` (for comparison): on the same kept checkpoints, midpoint = min + 0.5 *
(max - min) of the raw accuracy (no smoothing); the onset is the first checkpoint from which
accuracy stays strictly above the midpoint up to the last checkpoint.  None if the accuracy is
constant, has fewer than 2 known points, or does not stay above the midpoint at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

MIN_POINTS = 6
MIN_SIDE = 2
BIC_MARGIN = 10.0
NOISE_FLOOR = 1e-6
WIDTH_FRACTIONS = np.geomspace(0.002, 0.5, 20)


@dataclasses.dataclass(frozen=True)
class OnsetResult:
    """What `routing_onset` found.  `step` is None when no onset is reported; the fit details
    are filled whenever a fit was possible (n >= MIN_POINTS)."""

    step: int | None
    t0: float | None = None  # logistic centre (step units)
    width: float | None = None  # logistic width w (step units)
    lo: float | None = None  # level before the change
    delta: float | None = None  # d: change of level (negative = a drop)
    bic_line: float | None = None
    bic_logistic: float | None = None
    delta_bic: float | None = None  # BIC(line) - BIC(logistic); > BIC_MARGIN is required
    n_points: int = 0
    reason: str = ""  # why no onset (empty when one is reported)

    @property
    def direction(self) -> int:
        """-1 for a drop, +1 for a rise, 0 when no onset."""
        if self.step is None or self.delta is None:
            return 0
        return -1 if self.delta < 0 else 1


def _kept(steps: Sequence[float], values: Sequence[float], start_step: float | None):
    s = np.asarray(steps, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if s.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"steps and values must be 1-d of equal length, got {s.shape}, {y.shape}")
    if len(s) > 1 and np.any(np.diff(s) <= 0):
        raise ValueError("steps must be strictly ascending")
    keep = np.isfinite(y) & np.isfinite(s)
    if start_step is not None:
        keep &= s >= start_step
    return s[keep], y[keep]


def _bic(rss: np.ndarray | float, n: int, k: int, floor: float) -> np.ndarray | float:
    return n * np.log(np.maximum(rss, floor) / n) + k * np.log(n)


def fit_line(s: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares line: intercept, slope, RSS."""
    sc = s - s.mean()
    sxx = float(sc @ sc)
    slope = float(sc @ (y - y.mean())) / sxx if sxx > 0 else 0.0
    intercept = float(y.mean() - slope * s.mean())
    resid = y - intercept - slope * s
    return intercept, slope, float(resid @ resid)


def fit_logistic(s: np.ndarray, y: np.ndarray, width_fractions: np.ndarray = WIDTH_FRACTIONS):
    """Grid-search least-squares logistic step; returns (t0, w, lo, d, rss)."""
    t0s = (s[1:] + s[:-1]) / 2  # (m,)
    span = s[-1] - s[0]
    widths = np.asarray(width_fractions, dtype=np.float64) * span  # (g,)
    z = (s[None, None, :] - t0s[:, None, None]) / widths[None, :, None]  # (m, g, n)
    sig = 0.5 * (1.0 + np.tanh(0.5 * z))  # numerically safe sigmoid
    sm = sig.mean(axis=-1, keepdims=True)
    sc = sig - sm
    yc = y - y.mean()
    var = (sc * sc).sum(axis=-1)  # (m, g)
    cov = (sc * yc).sum(axis=-1)  # (m, g)
    syy = float(yc @ yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(var > 1e-12, cov / var, 0.0)
    rss = np.maximum(syy - d * cov, 0.0)  # (m, g)
    i, j = np.unravel_index(int(np.argmin(rss)), rss.shape)
    d_best = float(d[i, j])
    lo = float(y.mean() - d_best * sm[i, j, 0])
    # exact RSS of the chosen fit (the closed form can lose precision)
    resid = y - lo - d_best * sig[i, j]
    return float(t0s[i]), float(widths[j]), lo, d_best, float(resid @ resid)


def routing_onset(steps: Sequence[float], values: Sequence[float], start_step: float | None = None,
                  margin: float = BIC_MARGIN) -> OnsetResult:
    """Onset of a change in `values` (one per checkpoint), by logistic-vs-line BIC (module doc).

    >>> steps = list(range(0, 400, 10))
    >>> y = [5.0 if s < 200 else 3.0 for s in steps]
    >>> routing_onset(steps, y).step
    200
    >>> routing_onset(steps, [0.01 * s for s in steps]).step is None
    True
    """
    s, y = _kept(steps, values, start_step)
    n = len(s)
    if n < MIN_POINTS:
        return OnsetResult(None, n_points=n, reason=f"only {n} points (< {MIN_POINTS})")
    scale = float(np.ptp(y)) or 1.0
    floor = n * (NOISE_FLOOR * scale) ** 2
    _, _, rss_line = fit_line(s, y)
    t0, w, lo, d, rss_log = fit_logistic(s, y)
    bic_line = float(_bic(rss_line, n, 2, floor))
    bic_log = float(_bic(rss_log, n, 4, floor))
    delta = bic_line - bic_log
    details = dict(t0=t0, width=w, lo=lo, delta=d, bic_line=bic_line, bic_logistic=bic_log,
                   delta_bic=delta, n_points=n)
    if not delta > margin:
        return OnsetResult(None, reason=f"logistic not better than line by {margin} BIC", **details)
    n_before = int((s < t0).sum())
    if n_before < MIN_SIDE or n - n_before < MIN_SIDE:
        return OnsetResult(None, reason="t0 at the edge of the range", **details)
    onset = int(round(s[s >= t0][0]))
    return OnsetResult(onset, **details)


def accuracy_onset(steps: Sequence[float], accuracy: Sequence[float],
                   start_step: float | None = None) -> int | None:
    """First checkpoint from which accuracy stays above min + 0.5 * (max - min) (module doc).

    >>> accuracy_onset([0, 10, 20, 30, 40, 50], [0.0, 0.1, 0.6, 0.4, 0.8, 1.0])
    40
    >>> accuracy_onset([0, 10, 20], [0.5, 0.5, 0.5]) is None
    True
    """
    s, a = _kept(steps, accuracy, start_step)
    if len(a) < 2 or np.ptp(a) == 0:
        return None
    mid = a.min() + 0.5 * (a.max() - a.min())
    above = a > mid
    if not above[-1]:
        return None
    stays = np.logical_and.accumulate(above[::-1])[::-1]
    return int(round(s[int(np.argmax(stays))]))


def settled_step(steps: Sequence[float], loss: Sequence[float], fraction: float = 0.9) -> float | None:
    """The first step at which a loss curve has made `fraction` of its drop so far (from its first
    value to its minimum): where the live monitor starts looking for a routing onset, from
    training loss alone. None with fewer than 2 finite points or no drop.

    >>> settled_step([0, 10, 20, 30], [4.0, 1.0, 0.5, 0.45])
    20.0
    """
    s, y = _kept(steps, loss, None)
    if len(y) < 2 or y.min() >= y[0]:
        return None
    target = y[0] - fraction * (y[0] - y.min())
    return float(s[int(np.argmax(y <= target))])
