"""Readers keep working while an extraction writes the same store in another process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from factories import ROOT, sample_rows, write_jsonl
from grokviz.store import Store
from grokviz.summary import store_summary
from grokviz.tables import Tables, read_step

pytestmark = pytest.mark.slow


def test_reader_sees_only_complete_checkpoints_while_a_writer_runs(series_factory, tmp_path):
    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(120))
    store_dir = tmp_path / "data"
    Store(store_dir)
    writer = subprocess.Popen(
        [sys.executable, "-m", "grokviz", "extract", "--model", str(series_factory("olmoe")),
         "--samples", str(samples), "--store", str(store_dir), "--run", "r", "--part-size", "8",
         "--token-budget", "64", "--quiet"], env={**os.environ, "PYTHONPATH": str(ROOT)})
    reads, errors, seen = 0, [], []
    while writer.poll() is None or reads < 5:
        try:
            store = Store(store_dir, create=False)
            with Tables(store) as tables:
                counts = tables.query("SELECT step, count(*) AS n FROM losses GROUP BY step ORDER BY step")
            assert counts["n"].eq(120).all(), counts  # a step shows whole or not at all
            for step in counts["step"]:
                frame, dist = read_step(store, "r", int(step))
                assert len(frame) == 120 and dist.shape[0] == 120
            store_summary(store)
            seen.append(len(counts))
        except Exception as err:  # counted, then reported all at once
            errors.append(repr(err))
        reads += 1
    assert writer.returncode == 0
    assert errors == []
    assert seen == sorted(seen) and seen[-1] == 3, seen
    assert reads >= 5
