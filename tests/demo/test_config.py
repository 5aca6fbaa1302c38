"""Fast tests of the demo's run settings and checkpoint schedule (no training)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from grokviz.demo.train import DemoConfig, checkpoint_steps


def test_config_round_trips_through_json() -> None:
    config = DemoConfig(seed=5, batch_size=256)
    assert DemoConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_quick_is_small() -> None:
    quick = DemoConfig.quick()
    assert quick.steps < DemoConfig().steps
    assert [t.name for t in quick.tasks] == [t.name for t in DemoConfig().tasks]
    assert DemoConfig.quick(steps=40).steps == 40


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_layers": 0}, "num_layers"),
        ({"hidden_size": 66}, "divisible"),
        ({"top_k": 9}, "top_k"),
        ({"lr": 0.0}, "lr"),
        ({"betas": (0.9, 1.0)}, "betas"),
        ({"batch_size": 0}, "batch_size"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"grokfast_alpha": 1.0}, "grokfast"),
        ({"n_checkpoints": 1}, "n_checkpoints"),
        ({"tasks": ()}, "at least one task"),
    ],
    ids=lambda v: v if isinstance(v, str) else next(iter(v)),
)
def test_config_validation(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DemoConfig(), **change)


@pytest.mark.parametrize(("steps", "n"), [(2000, 40), (150, 30), (5000, 50), (31, 30)])
def test_checkpoint_schedule(steps: int, n: int) -> None:
    schedule = checkpoint_steps(steps, n)
    assert len(schedule) == n
    assert schedule == sorted(set(schedule))
    assert schedule[0] == 0 and schedule[-1] == steps
    assert schedule[1] - schedule[0] <= schedule[-1] - schedule[-2]  # denser early
