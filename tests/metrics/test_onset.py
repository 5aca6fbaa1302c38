"""The routing-only onset detector on synthetic series with known breakpoints, trends and noise."""

import numpy as np
import pytest

from grokviz.metrics import onset
from grokviz.metrics.onset import accuracy_onset, routing_onset

# checkpoint_steps(1500, 60) of grokviz.demo.train (copied so the test is pure NumPy)
CKPT = np.array([0, 10, 20, 30, 50, 60, 70, 80, 90, 110, 130, 150, 160, 180, 190, 220, 260, 270, 290, 320,
                 330, 370, 380, 400, 440, 450, 480, 510, 530, 550, 590, 620, 630, 660, 700, 730, 750, 770,
                 800, 840, 880, 890, 910, 950, 990, 1020, 1060, 1100, 1130, 1170, 1210, 1240, 1260, 1280,
                 1320, 1350, 1390, 1430, 1460, 1500], float)


def test_the_spacing_is_the_demo_schedule():
    from grokviz.demo.train import checkpoint_steps

    assert checkpoint_steps(1500, 60) == CKPT.astype(int).tolist()


def _logistic(s, t0, w, lo=5.0, d=-1.0):
    return lo + d / (1 + np.exp(-(s - t0) / w))


@pytest.mark.parametrize("start,t0,w,sd", [
    (50, 170, 5, 0.1), (50, 170, 20, 0.1), (50, 350, 40, 0.1), (50, 705, 60, 0.1),
    (50, 1000, 60, 0.1), (330, 1000, 100, 0.1), (50, 1300, 30, 0.05), (0, 95, 10, 0.1),
    (50, 600, 80, 0.05),
])
def test_known_breakpoint_found_within_one_checkpoint(start, t0, w, sd):
    rng = np.random.default_rng(int(t0 + w))
    s = CKPT[CKPT >= start]
    true_idx = int(np.argmax(s >= t0))
    for _ in range(20):
        y = _logistic(s, t0, w) + rng.normal(scale=sd, size=len(s))
        r = routing_onset(CKPT, np.interp(CKPT, s, y), start_step=start)
        assert r.step is not None, r
        assert abs(int(np.where(s == r.step)[0][0]) - true_idx) <= 1, (r, t0)
        assert r.direction == -1


def test_rise_also_found():
    rng = np.random.default_rng(0)
    y = _logistic(CKPT, 500, 30, lo=0.0, d=2.0) + rng.normal(scale=0.1, size=len(CKPT))
    r = routing_onset(CKPT, y)
    assert r.direction == 1 and abs(r.step - 500) <= 40


def test_linear_trend_with_noise_gives_no_onset():
    rng = np.random.default_rng(1)
    false = 0
    for i in range(200):
        start = [0, 50, 330, 990][i % 4]
        s = CKPT[CKPT >= start]
        y = rng.uniform(-5, 5) * (s - s[0]) / (s[-1] - s[0]) + rng.normal(size=len(s))
        false += routing_onset(s, y).step is not None
    assert false <= 10


def test_pure_noise_gives_no_onset():
    rng = np.random.default_rng(2)
    false = 0
    for i in range(200):
        start = [0, 50, 330, 990, 1240][i % 5]
        s = CKPT[CKPT >= start]
        false += routing_onset(s, rng.normal(size=len(s))).step is not None
    assert false <= 10


def test_noise_free_line_and_constant():
    s = CKPT
    assert routing_onset(s, 3.0 - 0.001 * s).step is None
    assert routing_onset(s, np.full(len(s), 2.0)).step is None


def test_noise_free_step_found():
    y = np.where(CKPT < 400, 4.0, 3.0)
    assert routing_onset(CKPT, y).step == 400


def test_too_few_points_and_start_step():
    assert routing_onset([0, 1, 2, 3, 4], [0, 0, 1, 1, 1]).step is None
    r = routing_onset(CKPT, np.where(CKPT < 400, 4.0, 3.0), start_step=1350)
    assert r.step is None and r.n_points == 5


def test_edge_step_rejected():
    y = np.zeros(len(CKPT))
    y[-1] = 10.0  # one outlier at the end is not an onset
    assert routing_onset(CKPT, y).step is None


def test_nan_points_ignored():
    y = np.where(CKPT < 400, 4.0, 3.0)
    y[5] = np.nan
    assert routing_onset(CKPT, y).step == 400


def test_accuracy_onset():
    acc = 1 / (1 + np.exp(-(CKPT - 600) / 50))
    assert accuracy_onset(CKPT, acc) == 620
    assert accuracy_onset(CKPT, acc, start_step=500) == CKPT[np.argmax(acc > (acc[CKPT >= 500].min() + 1) / 2)]
    assert accuracy_onset([0, 10, 20, 30], [0.1, 0.9, 0.2, 0.3]) is None
    assert accuracy_onset([0, 10, 20, 30], [0.0, 0.9, 0.2, 1.0]) == 30  # dips below: must stay above
    assert accuracy_onset([0, 10, 20, 30], [0.0, 0.2, 0.9, 0.4]) is None


def test_rule_constants_documented():
    assert onset.BIC_MARGIN == 10.0 and onset.MIN_POINTS == 6 and onset.MIN_SIDE == 2
    assert "BIC_MARGIN" in onset.__doc__
