"""Memorisation step t*, automatic eps and the memorisation table (METHOD 5)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grokviz import names
from grokviz.metrics import memorization as mem

FAST = settings(max_examples=50, deadline=None)
STEPS = [5, 125, 245, 370, 490, 615]


def slow_t_star(losses, steps, eps, delta) -> int:
    """The definition read literally: earliest t with every t' >= t settled."""
    final = losses[-1]
    for t in range(len(steps)):
        if all(
            not math.isnan(losses[u]) and losses[u] <= eps and abs(losses[u] - final) <= delta
            for u in range(t, len(steps))
        ):
            return steps[t]
    return -1


def slow_fraction(losses, steps, eps, delta) -> float:
    t_star = [slow_t_star(row, steps, eps, delta) for row in losses]
    return sum(t != -1 and t < steps[-1] for t in t_star) / len(t_star)


def random_losses(n, n_steps, seed, nan_share=0.05) -> np.ndarray:
    """Losses that fall towards noisy plateaus, with some missing checkpoints."""
    rng = np.random.default_rng(seed)
    plateau = rng.uniform(0.1, 3.0, size=(n, 1))
    decay = np.exp(-rng.uniform(0.2, 2.0, size=(n, 1)) * np.arange(n_steps))  # (n, n_steps)
    losses = plateau + 4 * decay + rng.normal(0, 0.03, size=(n, n_steps))
    losses[rng.random((n, n_steps)) < nan_share] = np.nan
    return losses


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0], ids=["eps0.5", "eps1", "eps2"])
@pytest.mark.parametrize("delta", [0.01, 0.05, 0.2], ids=["delta0.01", "delta0.05", "delta0.2"])
def test_steps_match_reference(eps, delta):
    losses = random_losses(150, len(STEPS), seed=1)
    expected = [slow_t_star(row, STEPS, eps, delta) for row in losses]
    assert mem.memorization_steps(losses, STEPS, eps, delta).tolist() == expected


def test_per_sample_eps_matches_reference():
    losses = random_losses(40, len(STEPS), seed=2)
    eps = np.random.default_rng(3).uniform(0.3, 3.0, size=40)
    expected = [slow_t_star(row, STEPS, e, 0.05) for row, e in zip(losses, eps)]
    assert mem.memorization_steps(losses, STEPS, eps).tolist() == expected


def test_missing_final_loss_never_memorizes():
    losses = np.array([[3.0, 0.1, 0.1, 0.1, 0.1, np.nan]])
    assert mem.memorization_steps(losses, STEPS, eps=1.0).tolist() == [names.NEVER_MEMORIZED]


def test_memorized_before_last_excludes_the_final_checkpoint():
    t_star = np.array([5, 615, -1])
    assert mem.before_last(t_star, STEPS).tolist() == [True, False, False]


@FAST
@given(
    hnp.arrays(np.float64, (8, 6), elements=st.floats(0, 4) | st.just(np.nan)),
    hnp.arrays(np.float64, (8, 6), elements=st.floats(0, 4) | st.just(np.nan)),
)
def test_step_is_invariant_to_losses_before_it(losses, noise):
    """Losses more than one checkpoint before t* never matter (the one just before fails)."""
    t_star = mem.memorization_steps(losses, STEPS, eps=1.5)
    changed = losses.copy()
    for i, t in enumerate(t_star):
        index = STEPS.index(t) if t != -1 else len(STEPS)
        changed[i, : max(index - 1, 0)] = noise[i, : max(index - 1, 0)]
    assert mem.memorization_steps(changed, STEPS, eps=1.5).tolist() == t_star.tolist()


@FAST
@given(hnp.arrays(np.float64, (6, 6), elements=st.floats(0, 4)), st.floats(0.1, 2), st.floats(0, 2))
def test_larger_eps_never_delays_memorization(losses, eps, extra):
    def as_order(t):  # never memorised sorts last
        return np.where(t == -1, np.inf, t)

    early = mem.memorization_steps(losses, STEPS, eps=eps + extra)
    late = mem.memorization_steps(losses, STEPS, eps=eps)
    assert np.all(as_order(early) <= as_order(late))


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_auto_eps_matches_grid_search_reference(seed):
    losses = random_losses(60, len(STEPS), seed=seed)
    got = mem.auto_eps(losses, STEPS, max_eps=5.0)
    grid = [round(k * 0.1, 12) for k in range(1, 51)]
    fractions = [slow_fraction(losses, STEPS, e, 0.05) for e in grid]
    in_band = [e for e, f in zip(grid, fractions) if 0.20 <= f <= 0.25]
    reaching = [e for e, f in zip(grid, fractions) if f >= 0.20]
    expected = in_band[0] if in_band else reaching[0] if reaching else grid[-1]
    assert got == expected


def test_auto_eps_fallbacks():
    # Two of four samples settle at 0.3: the fraction jumps 0 -> 0.5 over the band.
    jump = np.array([[2.0, 0.3, 0.3]] * 2 + [[2.0, 9.0, 9.0]] * 2)
    assert mem.auto_eps(jump, [1, 2, 3]) == 0.3
    # Nothing settles before T: the largest multiple tried.
    never = np.array([[2.0, 2.0, 0.1]] * 4)
    assert mem.auto_eps(never, [1, 2, 3], max_eps=1.0) == 1.0


def test_table_columns_follow_the_export_contract():
    losses = random_losses(10, len(STEPS), seed=4)
    table = mem.memorization_table([f"s{i}" for i in range(10)], ["a"] * 5 + ["b"] * 5, losses, STEPS, eps=1.0)
    assert tuple(table.columns) == names.EXPORT_COLUMNS["memorization"][1:]
    assert table[mem.T_STAR].tolist() == mem.memorization_steps(losses, STEPS, 1.0).tolist()


def test_table_eps_per_group_and_auto():
    losses = random_losses(40, len(STEPS), seed=5)
    groups = ["math"] * 20 + ["code"] * 20
    table = mem.memorization_table(range(40), groups, losses, STEPS, eps={"math": 0.5, "code": 2.0})
    assert table.groupby(names.GROUP)[mem.EPS].first().to_dict() == {"code": 2.0, "math": 0.5}
    auto = mem.memorization_table(range(40), groups, losses, STEPS, eps="auto")
    assert auto.loc[auto[names.GROUP] == "code", mem.EPS].iloc[0] == mem.auto_eps(losses[20:], STEPS)
    assert auto.loc[auto[names.GROUP] == "math", mem.EPS].iloc[0] == mem.auto_eps(losses[:20], STEPS)


def test_pretrain_group_labels():
    assert [mem.pretrain_group(t) for t in (5000, -1)] == ["Pretrain@5000", "never"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mem.memorization_steps(np.ones((2, 3)), [1, 2], 1.0), "one step per"),
        (lambda: mem.memorization_steps(np.ones((2, 3)), [1, 3, 2], 1.0), "ascending"),
        (lambda: mem.memorization_steps(np.ones(3), [1, 2, 3], 1.0), "shape"),
        (lambda: mem.memorization_steps(np.ones((2, 3)), [1, 2, 3], np.ones(3)), "per sample"),
        (lambda: mem.memorization_steps(np.ones((2, 3)), [1, 2, 3], 1.0, delta=-1), "delta"),
        (lambda: mem.auto_eps(np.ones((2, 1)), [1]), "at least 2"),
        (lambda: mem.auto_eps(np.ones((2, 3)), [1, 2, 3], low=0.5, high=0.2), "low"),
        (lambda: mem.memorization_table(["a"], ["g"], np.ones((1, 3)), [1, 2, 3], eps={"h": 1.0}), "group 'g'"),
        (lambda: mem.memorization_table(["a"], ["g"], np.ones((1, 3)), [1, 2, 3], eps="best"), "auto"),
        (lambda: mem.memorization_table(["a", "b"], ["g"], np.ones((2, 3)), [1, 2, 3], eps=1.0), "one sample_id"),
    ],
    ids=["steps-length", "steps-order", "1d-losses", "eps-length", "negative-delta", "one-checkpoint",
         "empty-band", "eps-missing-group", "eps-unknown-word", "ids-length"],
)
def test_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_empty_table_has_the_columns():
    table = mem.memorization_table([], [], np.zeros((0, 3)), [1, 2, 3], eps=1.0)
    assert isinstance(table, pd.DataFrame) and len(table) == 0
    assert tuple(table.columns) == names.EXPORT_COLUMNS["memorization"][1:]
