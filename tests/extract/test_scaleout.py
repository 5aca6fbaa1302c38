"""`extract_with_ray` on a 2-CPU local Ray cluster writes exactly what one process writes.

Skipped cleanly where Ray is not installed (it is the optional extra `grokviz[ray]`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from factories import ROOT, sample_rows, write_jsonl

from grokviz.config import ExtractConfig
from grokviz.errors import InputError
from grokviz.extract.run import extract
from grokviz.names import EXTRACTION_TABLES
from grokviz.store.layout import Store
from grokviz.store.tables import Tables

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}})
    yield
    ray.shutdown()


def test_ray_tasks_per_checkpoint_and_shard_equal_a_single_process_run(local_cluster, series_factory, tmp_path):
    from grokviz.extract.scaleout import extract_with_ray

    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(24))
    config = ExtractConfig(run="r", model=str(series_factory("olmoe")), samples=str(samples), part_size=4,
                           token_routes=3, device="cpu")
    extract(config, Store(tmp_path / "single"), progress=False)
    report = extract_with_ray(config, tmp_path / "ray", n_shards=2)
    assert sorted(report.tasks_done) == [(s, i) for s in (100, 200, 300) for i in (0, 1)]
    single, parallel = Store(tmp_path / "single"), Store(tmp_path / "ray")
    assert sorted(parallel.complete_shards("r")) == [(s, (i, 2)) for s in (100, 200, 300) for i in (0, 1)]
    with Tables(single, "r") as one, Tables(parallel, "r") as many:
        for table in EXTRACTION_TABLES:
            assert one.table(table).equals(many.table(table)), table
    again = extract_with_ray(config, tmp_path / "ray", n_shards=2)
    assert again.tasks_done == [] and len(again.tasks_skipped) == 6


def test_a_failing_task_raises_the_error_a_local_run_gives(local_cluster, series_factory, tmp_path):
    import shutil

    from grokviz.errors import ModelError
    from grokviz.extract.scaleout import extract_with_ray

    broken = Path(shutil.copytree(series_factory("olmoe"), tmp_path / "broken"))
    weights = broken / "step200" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    config = ExtractConfig(run="r", model=str(broken), samples=str(write_jsonl(tmp_path / "s.jsonl", sample_rows(8))),
                           device="cpu")
    with pytest.raises(ModelError, match="step200: cannot load the weights"):
        extract_with_ray(config, tmp_path / "ray", n_shards=1)
    with pytest.raises(InputError, match="duplicate sample_id 's000'"):  # checked once, before any task
        bad = write_jsonl(tmp_path / "bad.jsonl", sample_rows(2) + sample_rows(1))
        extract_with_ray(dataclasses.replace(config, samples=str(bad)), tmp_path / "ray", n_shards=1)


def test_the_cli_takes_either_ray_or_shard(series_factory, tmp_path, capsys):
    from grokviz.cli import main

    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(4))
    assert main(["extract", "--model", str(series_factory("olmoe")), "--samples", str(samples), "--store",
                 str(tmp_path / "data"), "--run", "r", "--ray", "2", "--shard", "0/2"]) == 2
    assert "give either --ray or --shard, not both" in capsys.readouterr().err
