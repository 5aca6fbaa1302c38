"""An extraction killed with SIGKILL mid-checkpoint resumes and ends with identical tables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from factories import ROOT, sample_rows, write_jsonl

from grokviz.names import EXTRACTION_TABLES
from grokviz.store.layout import Store, read_parquet
from grokviz.store.tables import Tables

pytestmark = pytest.mark.slow


def extract_command(series, samples, store) -> list[str]:
    return [sys.executable, "-m", "grokviz", "extract", "--model", str(series), "--samples",
            str(samples), "--store", str(store), "--run", "r", "--part-size", "8",
            "--token-budget", "64", "--quiet"]


def kill_when(process: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "extraction finished before the kill point"
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_sigkill_mid_checkpoint_then_rerun_gives_the_uninterrupted_tables(series_factory, tmp_path):
    series = series_factory("olmoe")
    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(160))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(extract_command(series, samples, tmp_path / "clean"), check=True, env=env)

    killed = tmp_path / "killed"
    step_200 = killed / "runs" / "r" / "checkpoints" / "step=000000200" / "shard-0-of-1.partial"
    process = subprocess.Popen(extract_command(series, samples, killed), env=env)
    kill_when(process, lambda: step_200.exists() and len(list(step_200.glob("*.samples.parquet"))) >= 2)
    store = Store(killed)
    assert [s for s, _ in store.complete_shards("r")] == [100], "only step 100 was complete"
    assert Tables(store, "r").query("SELECT DISTINCT step FROM losses")["step"].tolist() == [100]

    rerun = subprocess.run(extract_command(series, samples, killed), env=env, capture_output=True,
                           text=True, check=True)
    assert "skipped 1 already complete" in rerun.stdout
    clean = Store(tmp_path / "clean")
    for table in EXTRACTION_TABLES:
        assert Tables(store, "r").table(table).equals(Tables(clean, "r").table(table)), table
    for step in (100, 200, 300):  # the token means of a resumed shard are those of an uninterrupted one
        path = store.shard_dir("r", step, (0, 1), partial=False) / "token_means.parquet"
        assert read_parquet(path).equals(read_parquet(clean.shard_dir("r", step, (0, 1), partial=False)
                                                      / "token_means.parquet")), step
