"""The checkpoint-integrity rules on synthetic weight series: simulated training trajectories
(warm-up, decaying learning rate, drift plus noise, uneven checkpoint spacing) with a checkpoint
misplaced, a series continued from another run, or a duplicated step; then the same rules on a
store, through `grokviz doctor`."""

from __future__ import annotations

import numpy as np
import pytest

from grokviz.store import integrity
from grokviz.store.integrity import find_jumps, relative_distance

UNEVEN = [0, 10, 20, 40, 80, 160, 320, 500, 750, 1000, 1500, 2000, 2500, 3000]  # dense early
LOG = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000, 3000, 4000, 5000]  # Pythia-like, in warm-up


def trajectory(last: int, *, seed: int = 0, warmup: int = 0, shape=(2, 8, 16)) -> np.ndarray:
    """Router weights after each of `last` optimiser steps (index = step): a steady drift plus
    noise, scaled by a learning rate with linear warm-up and inverse-square-root decay."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, last + 1)
    lr = np.where(t < warmup, t / max(warmup, 1), 1.0) / np.sqrt(np.maximum(t, warmup) / max(warmup, 100)) * 1e-3
    updates = lr[:, None, None, None] * (0.3 * rng.normal(0, 1, shape) + rng.normal(0, 1, (last, *shape)))
    start = rng.normal(0, 0.05, shape)
    return np.concatenate([start[None], start + np.cumsum(updates, 0)])


def jumps(weights: list, steps: list[int]) -> list[tuple[int, bool]]:
    distances = [relative_distance(a, b) for a, b in zip(weights, weights[1:])]
    skips = [relative_distance(a, b) for a, b in zip(weights, weights[2:])]
    return [(j.step, j.off_line) for j in find_jumps(steps, distances, skips)]


def at(w: np.ndarray, steps: list[int]) -> list[list[np.ndarray]]:
    return [list(w[s]) for s in steps]


@pytest.mark.parametrize("seed", range(10))
def test_smooth_training_is_never_flagged_whatever_the_spacing(seed):
    assert jumps(at(trajectory(3000, seed=seed), UNEVEN), UNEVEN) == []
    assert jumps(at(trajectory(5000, seed=seed, warmup=1430), LOG), LOG) == []  # rates double per checkpoint


@pytest.mark.parametrize("seed", range(10))
def test_a_checkpoint_from_another_run_under_one_step_name_is_reported_once_as_out_of_line(seed):
    weights = at(trajectory(3000, seed=seed), UNEVEN)
    weights[UNEVEN.index(1000)] = list(trajectory(3000, seed=seed + 100)[1000])
    assert jumps(weights, UNEVEN) == [(1000, True)]


@pytest.mark.parametrize("seed", range(10))
def test_a_checkpoint_from_later_in_the_run_is_a_jump(seed):
    w = trajectory(3000, seed=seed)
    weights = at(w, UNEVEN)
    weights[UNEVEN.index(1000)] = list(w[3000])  # "step 1000" holds the last checkpoint
    assert jumps(weights, UNEVEN) == [(1000, False)]


@pytest.mark.parametrize("seed", range(10))
def test_a_series_continued_from_another_run_jumps_where_it_changes(seed):
    w, other = trajectory(3000, seed=seed), trajectory(3000, seed=seed + 100)
    weights = [list(other[s]) if s >= 1500 else list(w[s]) for s in UNEVEN]
    assert jumps(weights, UNEVEN) == [(1500, False)]


def test_the_first_and_last_moves_and_short_series_are_not_judged():
    steps = [0, 10, 20, 30, 40, 50]
    assert find_jumps(steps, [5.0, .1, .1, .1, 5.0]) == []  # one-sided neighbours
    assert find_jumps(steps[:4], [.1, 5.0, .1]) == []  # two neighbours: too few
    assert [j.step for j in find_jumps(steps, [.1, .1, 5.0, .1, .1])] == [30]


def test_moves_too_small_to_measure_are_neither_jumps_nor_yardsticks():
    steps = list(range(0, 80, 10))
    assert find_jumps(steps, [1e-5, 1e-5, 9e-4, 1e-5, 1e-5, 1e-5, 1e-5]) == []  # float16 noise
    assert find_jumps(steps, [.1, .1, 0.0, .12, .1, .1, .1]) == []  # a duplicated step is no yardstick


def test_relative_distance_of_layers_together():
    a = [np.ones((2, 3)), np.ones((2, 3))]
    b = [np.ones((2, 3)), np.full((2, 3), 2.0)]
    assert relative_distance(a, b) == pytest.approx(np.sqrt(6 / 12))
    assert np.isnan(relative_distance(a, [np.ones((2, 3))]))  # other shapes are not comparable


# --- on a store -------------------------------------------------------------------------------
def test_doctor_reports_a_jump_in_a_run_written_to_a_store(tmp_path, capsys):
    """A synthetic run whose router weights follow a training trajectory, with the checkpoint of
    one step taken from another run: `doctor` names that step, and only it."""
    from grokviz.cli import main
    from grokviz.store.layout import Store, atomic_write_table
    from grokviz.store.shards import router_file
    from grokviz.synthetic.runs import SyntheticSpec, write_synthetic

    store = Store(tmp_path / "data")
    spec = SyntheticSpec(run="syn", checkpoints=8, groups=2, samples=10, items=4, layers=2, experts=8,
                         d_model=16, part_size=64)
    write_synthetic(store, spec)
    w, other = trajectory(spec.steps[-1] // 1000 + 1), trajectory(spec.steps[-1] // 1000 + 1, seed=9)
    for index, step in enumerate(spec.steps):
        source = other if index == 4 else w
        atomic_write_table(store.step_dir("syn", step) / "router.parquet", router_file(list(source[step // 1000])))
    found = integrity.check_series(store, "syn")
    assert [(f.kind, f.step) for f in found] == [("jump", spec.steps[4])]
    assert "which are only" in found[0].message  # out of line: farther from both neighbours than they are apart
    assert main(["doctor", "--store", str(store.root)]) == 1
    out = capsys.readouterr().out
    assert f"jump        run 'syn' step {spec.steps[4]}:" in out and str(store.step_dir("syn", spec.steps[4])) in out
