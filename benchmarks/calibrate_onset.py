"""Calibrate the onset detector's BIC_MARGIN on synthetic series only (never on demo results).

Run: `python benchmarks/calibrate_onset.py` (about a minute on 2 cores). The margin in
grokviz/metrics/onset.py was fixed from this output before any demo run was analysed.

Null series: pure Gaussian noise and linear trend + Gaussian noise, on the demo's checkpoint
spacing (checkpoint_steps(1500, 60) from several start steps, i.e. 6-58 points) and on even
spacing.  Prints the quantiles of BIC(line) - BIC(logistic) (t0 restricted to >= MIN_SIDE
points each side, as the rule requires) and the false-onset rate for candidate margins; then
the detection rate / location error for logistic drops.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grokviz.metrics import onset

CKPT = np.array([0, 10, 20, 30, 50, 60, 70, 80, 90, 110, 130, 150, 160, 180, 190, 220, 260, 270, 290, 320,
                 330, 370, 380, 400, 440, 450, 480, 510, 530, 550, 590, 620, 630, 660, 700, 730, 750, 770,
                 800, 840, 880, 890, 910, 950, 990, 1020, 1060, 1100, 1130, 1170, 1210, 1240, 1260, 1280,
                 1320, 1350, 1390, 1430, 1460, 1500], float)


def null_deltas(kind, rng, draws=400):
    out = {}
    for start in (0, 50, 330, 990, 1240, 1320):
        s = CKPT[CKPT >= start]
        d = []
        for _ in range(draws):
            y = rng.normal(size=len(s))
            if kind == "line":
                y = y + rng.uniform(-5, 5) * (s - s[0]) / (s[-1] - s[0])
            r = onset.routing_onset(s, y, margin=-np.inf)
            # count as candidate only when t0 is inside (rule 4b)
            nb = (s < r.t0).sum()
            inside = nb >= onset.MIN_SIDE and len(s) - nb >= onset.MIN_SIDE
            d.append(r.delta_bic if inside else -np.inf)
        out[(start, len(s))] = np.array(d)
    for n in (6, 10, 20, 40):
        s = np.arange(n) * 10.0
        d = []
        for _ in range(draws):
            y = rng.normal(size=n)
            if kind == "line":
                y = y + rng.uniform(-5, 5) * np.arange(n) / n
            r = onset.routing_onset(s, y, margin=-np.inf)
            nb = (s < r.t0).sum()
            inside = nb >= onset.MIN_SIDE and n - nb >= onset.MIN_SIDE
            d.append(r.delta_bic if inside else -np.inf)
        out[("even", n)] = np.array(d)
    return out


rng = np.random.default_rng(12345)
for kind in ("noise", "line"):
    print("==", kind)
    res = null_deltas(kind, rng)
    for key, d in res.items():
        fin = d[np.isfinite(d)]
        q = np.quantile(fin, [0.9, 0.95, 0.99]) if len(fin) else [np.nan] * 3
        rates = {m: float(np.mean(d > m)) for m in (4, 6, 8, 10, 12)}
        print(key, "q90/95/99 = {:.1f} {:.1f} {:.1f}".format(*q), "FPR by margin", rates)

print("== detection (drop d=-1, noise sd given), checkpoint error in index units")
for sd in (0.05, 0.1, 0.2):
    for start, t0, w in ((50, 170, 5), (50, 170, 30), (50, 350, 40), (50, 1000, 60), (330, 1000, 100), (50, 600, 150)):
        s = CKPT[CKPT >= start]
        errs, found = [], 0
        for _ in range(200):
            y = 5 - 1 / (1 + np.exp(-(s - t0) / w)) + rng.normal(scale=sd, size=len(s))
            r = onset.routing_onset(s, y)
            true_idx = int(np.argmax(s >= t0))
            if r.step is not None:
                found += 1
                errs.append(abs(int(np.where(s == r.step)[0][0]) - true_idx))
        errs = np.array(errs)
        print(f"sd={sd} start={start} t0={t0} w={w}: found {found}/200, within1 {np.mean(errs <= 1) if len(errs) else 0:.3f}, max err {errs.max() if len(errs) else None}")

print("== information only: AR(1) noise (phi = 0.5, 0.8), 56 points from step 50, margin", onset.BIC_MARGIN)
for phi in (0.5, 0.8):
    s = CKPT[CKPT >= 50]
    hits = 0
    for _ in range(400):
        e = rng.normal(size=len(s))
        y = np.empty(len(s))
        y[0] = e[0] / np.sqrt(1 - phi**2)
        for i in range(1, len(s)):
            y[i] = phi * y[i - 1] + e[i]
        hits += onset.routing_onset(s, y).step is not None
    print(f"phi={phi}: false-onset rate {hits / 400:.3f}")
