"""Checkpoint series: names parsed into steps and tokens, local discovery, hub-style selection."""

from __future__ import annotations

import json

import pytest

from grokviz.errors import ModelError
from grokviz.inputs.checkpoints import (
    Checkpoint,
    discover_local,
    from_revisions,
    looks_like_hub_id,
    parse_name,
    select_evenly,
    select_steps,
)

OLMOE_BRANCHES = [f"step{s}-tokens{s * 4 // 1000}B" for s in range(5000, 1_250_000, 5000)]


@pytest.mark.parametrize("name,expected", [
    ("step5000-tokens20B", (5000, 20_000_000_000)),
    ("step1220000-tokens5117B", (1_220_000, 5_117_000_000_000)),
    ("checkpoint-1500", (1500, None)),
    ("step_42", (42, None)),
    ("tokens2.5M", (None, 2_500_000)),
    ("main", (None, None)),
    ("laststep", (None, None)),
], ids=lambda v: str(v))
def test_parse_name(name, expected):
    assert parse_name(name) == expected


def test_ten_evenly_spaced_hub_branches_include_first_and_last():
    picked = select_evenly(from_revisions("allenai/OLMoE-1B-7B-0924", OLMOE_BRANCHES), 10)
    assert len(picked) == 10
    assert picked[0].step == 5000 and picked[-1].step == 1_245_000
    gaps = {b.step - a.step for a, b in zip(picked, picked[1:])}
    assert max(gaps) - min(gaps) <= 5000
    assert picked[0].revision == "step5000-tokens20B"


def test_select_steps_names_the_missing_ones():
    series = [Checkpoint(s) for s in (10, 20, 30)]
    assert [c.step for c in select_steps(series, [30, 10])] == [10, 30]
    with pytest.raises(ModelError, match=r"no checkpoint at steps \[25\]"):
        select_steps(series, [25])


def test_a_revision_without_a_step_is_refused():
    with pytest.raises(ModelError, match="no step in its name"):
        from_revisions("x/y", ["main"])


def test_local_series_from_folder_names_and_trainer_state(tmp_path):
    for name in ("step300", "step100"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
    trainer = tmp_path / "checkpoint-final"
    trainer.mkdir()
    (trainer / "config.json").write_text("{}")
    (trainer / "trainer_state.json").write_text(json.dumps({"global_step": 500}))
    assert [c.step for c in discover_local(tmp_path)] == [100, 300, 500]


def test_a_local_folder_without_steps_is_explained(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(ModelError, match="no checkpoint folders"):
        discover_local(tmp_path)


def test_hub_ids_and_paths_are_told_apart():
    assert looks_like_hub_id("allenai/OLMoE-1B-7B-0924")
    assert not looks_like_hub_id("/abs/path") and not looks_like_hub_id("a/b/c")
