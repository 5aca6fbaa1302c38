"""`grokviz demo --quick` end to end: real training, real checkpoints, real extraction and analysis.

The build itself is the session fixture `demo_store` (tests/conftest.py); the dashboard's pages on
it are tested in tests/dashboard/test_app.py."""

from __future__ import annotations

import dataclasses

import pytest

from grokviz.demo.build import run_findings
from grokviz.demo.findings import COLUMNS
from grokviz.demo.train import DemoConfig, train
from grokviz.store.analyses import read_analysis
from grokviz.store.tables import Tables

pytestmark = pytest.mark.slow


def test_quick_demo_builds_a_complete_run(demo_store):
    assert demo_store.runs() == ["demo"]
    with Tables(demo_store, "demo") as tables:
        steps = tables.query("SELECT DISTINCT step FROM losses ORDER BY step")["step"].tolist()
        accuracy = tables.query('SELECT "group", split, count(DISTINCT step) AS n FROM accuracy GROUP BY ALL')
        monitor = tables.query("SELECT count(DISTINCT step) AS n FROM monitor")["n"].item()
        samples = tables.table("samples")
    assert len(steps) >= 30 and steps[0] == 0
    assert set(accuracy["split"]) == {"train", "test"}
    assert set(accuracy["group"]) == {task.name for task in DemoConfig().tasks}
    assert (accuracy["n"] == len(steps)).all()
    assert monitor >= 20  # denser than nothing: the monitor logged during training
    assert set(samples["split"]) == {"train", "test"}
    for table in ("pathways", "group_metrics", "memorization", "generalization", "projection"):
        assert not read_analysis(demo_store, "demo", table).empty, table


def test_the_demo_reports_its_findings_per_task(demo_store):
    table = run_findings(demo_store, "demo")
    assert list(table.columns) == COLUMNS
    assert sorted(table["task"]) == sorted(task.name for task in DemoConfig().tasks)
    assert table["memorized_at"].notna().all()  # even the quick run memorises every task
    assert table["distance_pearson"].between(-1, 1).all() and table["training_loss_pearson"].between(-1, 1).all()
    written = (demo_store.root / "models" / "demo" / "findings.md").read_text()
    assert written.startswith("| task | memorized_at") and all(name in written for name in table["task"])


def test_training_is_deterministic_for_a_seed():
    config = dataclasses.replace(DemoConfig.quick(seed=3), steps=12, n_checkpoints=3)
    first, second = train(config), train(config)
    assert first.losses == second.losses
    other = train(dataclasses.replace(config, seed=4))
    assert other.losses != first.losses


def test_the_router_aux_loss_enters_training():
    config = dataclasses.replace(DemoConfig.quick(seed=3), steps=6, n_checkpoints=2)
    plain, balanced = train(config), train(dataclasses.replace(config, router_aux_loss=0.5))
    assert plain.losses[0] != balanced.losses[0]  # the first loss already includes the aux term
    assert all(b > 0 for b in balanced.losses)
