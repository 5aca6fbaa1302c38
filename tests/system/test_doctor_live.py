"""`grokviz doctor --fix`, run over and over while real `grokviz extract` and `grokviz analyze`
processes write the same store: it removes the leftovers of killed runs planted there, never
touches what the live writers hold (it reports them as live), never calls a file being written
unreadable, and both writers finish with exactly the tables of an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from factories import ROOT, sample_rows, write_jsonl

from grokviz import names
from grokviz.cli import main
from grokviz.store import analyses, locks
from grokviz.store.layout import Store
from grokviz.store.tables import Tables
from grokviz.synthetic.runs import SyntheticSpec, write_synthetic

pytestmark = pytest.mark.slow
ANALYZE = ["analyze", "--run", "syn", "--no-pairing", "--no-projection", "--top-k", "4", "--delta", "0.06", "--quiet"]
SPEC = SyntheticSpec(run="syn", checkpoints=6, groups=4, samples=60, items=20, part_size=64)


def grokviz(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grokviz", *args], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def plant_leftovers(store: Store) -> list:
    """What killed writers leave, an hour old: an analysis `.partial-*` folder (its writer's
    `.lock` unheld) and temporary files in the run, an appended table and the store's root."""
    run = store.run_dir("syn")
    partial = run / "analysis" / "0123456789abcdef.partial-5eed5eed"
    partial.mkdir(parents=True)
    (partial / locks.LOCK_NAME).write_text("pid 1 on elsewhere\n")
    shutil.copy(next((run / "tables" / "accuracy").glob("*.parquet")), partial / "pathways.parquet")
    files = [run / f".samples.parquet.{uuid.uuid4().hex}.tmp", store.root / f".store.json.{uuid.uuid4().hex}.tmp",
             run / "tables" / "accuracy" / f".synthetic.parquet.{uuid.uuid4().hex}.tmp"]
    for path in files:
        path.write_bytes(b"half a file")
    hour_ago = time.time() - 3600
    for path in [partial, *partial.iterdir(), *files]:
        os.utime(path, (hour_ago, hour_ago))
    return [partial, *files]


@pytest.mark.timeout(900)
def test_doctor_fix_during_extract_and_analyze_removes_leftovers_only(series_factory, tmp_path, capsys):
    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(120))
    extract = ["extract", "--model", str(series_factory("olmoe")), "--samples", str(samples), "--run", "r",
               "--part-size", "8", "--token-budget", "64", "--quiet"]
    clean, live = Store(tmp_path / "clean"), Store(tmp_path / "live")
    for store in (clean, live):
        write_synthetic(store, SPEC)  # the same run in both (seeded)
    assert main([*extract, "--store", str(clean.root)]) == 0  # the uninterrupted runs
    assert main([*ANALYZE, "--store", str(clean.root)]) == 0

    writers = [grokviz(*extract, "--store", str(live.root)), grokviz(*ANALYZE, "--store", str(live.root))]
    deadline = time.monotonic() + 300
    while not any(live.root.glob("runs/r/checkpoints/*/shard-*.partial")):  # the extraction is writing
        assert writers[0].poll() is None and time.monotonic() < deadline, "the extraction never started writing"
        time.sleep(0.01)
    leftovers = plant_leftovers(live)
    passes = []
    while any(w.poll() is None for w in writers):
        capsys.readouterr()
        status = main(["doctor", "--store", str(live.root), "--fix", "--json"])
        report = json.loads(capsys.readouterr().out)
        passes.append((status, report["findings"]))
    assert [w.returncode for w in writers] == [0, 0], [w.stderr.read() for w in writers]

    seen = [f for _, findings in passes for f in findings]
    assert all(f["fixed"] or f["live"] for f in seen), [f for f in seen if not (f["fixed"] or f["live"])]
    assert all(status == 0 for status, _ in passes)  # nothing outstanding was ever reported
    assert sorted(f["path"] for f in seen if f["fixed"]) == sorted(str(p) for p in leftovers)
    live_shards = [f for f in seen if f["kind"] == "incomplete" and f["live"] and f["run"] == "r"]
    assert live_shards, f"no doctor pass ran while the extraction wrote ({len(passes)} passes)"
    assert not any(p.exists() for p in leftovers)

    capsys.readouterr()
    assert main(["doctor", "--store", str(live.root)]) == 0
    assert capsys.readouterr().out.strip() == f"store {live.root}: healthy"
    assert analyses.latest_key(live, "syn") == analyses.latest_key(clean, "syn")
    for run, tables in (("r", names.EXTRACTION_TABLES), ("syn", names.ANALYSIS_TABLES)):
        with Tables(live, run) as left, Tables(clean, run) as right:
            for table in tables:
                assert left.table(table).equals(right.table(table)), (run, table)
