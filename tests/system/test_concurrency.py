"""Readers keep working while an extraction writes the same store in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from factories import ROOT, sample_rows, write_jsonl

from grokviz.store.layout import Store
from grokviz.store.summary import store_summary
from grokviz.store.tables import Tables, read_step

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


PAGES = ("overview", "memorization", "pathways", "inspector")  # what an extraction alone feeds


def start_writer(series, samples, store_dir, run: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "grokviz", "extract", "--model", str(series), "--samples", str(samples),
         "--store", str(store_dir), "--run", run, "--part-size", "8", "--token-budget", "64", "--quiet"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)


@pytest.mark.timeout(240)
def test_dashboard_refreshes_200_times_while_an_extraction_writes(series_factory, tmp_path, monkeypatch):
    """Each refresh is a rerun of app.py and a page (every tenth one a new session), always while
    a real `grokviz extract` process runs on the same store; when one run's extraction ends, the
    next run's starts. Errors (exceptions on the page or from the rerun) are counted: there must
    be none, and the refreshes must have seen checkpoints land."""
    from streamlit.testing.v1 import AppTest

    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(120))
    store_dir = tmp_path / "data"
    Store(store_dir)
    monkeypatch.setenv("GROKVIZ_STORE", str(store_dir))
    series, runs = series_factory("olmoe"), iter(f"w{i}" for i in range(100))
    writer = start_writer(series, samples, store_dir, next(runs))
    while not any(store_dir.glob("runs/*/checkpoints/*/*/part-*")):  # the writer is writing
        assert writer.poll() is None, "the first extraction ended before it wrote a part"
        time.sleep(0.05)
    refreshes, errors, at, seen = 0, [], None, set()
    while refreshes < 200:
        if writer.poll() is not None:
            assert writer.returncode == 0
            writer = start_writer(series, samples, store_dir, next(runs))
        if refreshes % 10 == 0:
            at = AppTest.from_file(str(ROOT / "grokviz" / "dashboard" / "app.py"), default_timeout=60).run()
        try:
            page = PAGES[refreshes % len(PAGES)]
            (at.switch_page(f"views/{page}.py") if page != "overview" else at).run()
            errors += [f"{page}: {e.message}" for e in at.exception]
        except Exception as err:  # counted, then reported all at once
            errors.append(f"{page}: {err!r}")
        refreshes += 1
        seen.add(sum(len(Store(store_dir).complete_shards(run)) for run in Store(store_dir).runs()))
    writer.wait(timeout=120)
    assert writer.returncode == 0
    assert errors == [], f"{len(errors)} errors in {refreshes} refreshes: {errors[:5]}"
    assert len(seen) >= 3, f"the store hardly changed during the refreshes: {seen}"
