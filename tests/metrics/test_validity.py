"""Bootstrap intervals, leave-one-out ranges and permutation p-values of correlations over checkpoints."""

import numpy as np
import pytest

from grokviz.metrics.correlation import partial_correlation
from grokviz.metrics.validity import bootstrap_ci, correlation, loo_range, permutation_p


def test_correlation_matches_numpy_and_grokviz_partial():
    rng = np.random.default_rng(0)
    x, y, c = rng.normal(size=(3, 30))
    y = y + x + c
    assert correlation(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert correlation(x, y, c) == pytest.approx(partial_correlation(x, y, c))


@pytest.mark.parametrize("rho", [0.0, 0.5, -0.8])
def test_bootstrap_coverage(rho):
    rng = np.random.default_rng(int(100 * rho) + 700)
    cov = [[1, rho], [rho, 1]]
    covered = 0
    for i in range(200):
        x, y = rng.multivariate_normal([0, 0], cov, size=40).T
        ci = bootstrap_ci(x, y, seed=i)
        covered += ci.low <= rho <= ci.high
    assert 0.90 * 200 <= covered <= 0.99 * 200, covered


def test_partial_bootstrap_coverage():
    # y and x both trend with the step; their partial correlation given the step is rho
    rng = np.random.default_rng(11)
    rho = -0.5
    steps = np.linspace(0, 1500, 40)
    covered = 0
    for i in range(200):
        e1, e2 = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=40).T
        x = 3 * steps / 1500 + e1
        y = -2 * steps / 1500 + e2
        ci = bootstrap_ci(x, y, control=steps, seed=i)
        covered += ci.low <= rho <= ci.high
    assert 0.88 * 200 <= covered <= 0.99 * 200, covered


def test_bootstrap_is_deterministic_and_handles_degenerate():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 20))
    assert bootstrap_ci(x, y) == bootstrap_ci(x, y)
    ci = bootstrap_ci(np.ones(20), y)
    assert np.isnan(ci.estimate) and np.isnan(ci.low)
    ci = bootstrap_ci(x, y, block=4)
    assert ci.low <= ci.estimate <= ci.high


def test_loo_range_contains_estimate():
    rng = np.random.default_rng(2)
    x, y, c = rng.normal(size=(3, 25))
    lo, hi = loo_range(x, y)
    assert lo <= correlation(x, y) <= hi
    lo, hi = loo_range(x, y, c)
    assert lo <= correlation(x, y, c) <= hi


def test_permutation_p():
    rng = np.random.default_rng(3)
    null = [permutation_p(*rng.normal(size=(2, 30)), seed=i) for i in range(100)]
    assert 0.02 <= np.mean(np.array(null) < 0.05) <= 0.12
    x = rng.normal(size=40)
    assert permutation_p(x, x + 0.3 * rng.normal(size=40)) < 0.01
    assert permutation_p(x, x + rng.normal(size=40), control=np.arange(40.0)) < 0.05
