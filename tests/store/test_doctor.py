"""`grokviz doctor`: each kind of finding produced on purpose in a tmp store and reported by name;
`--fix` removes orphans only, and never what a live writer holds; exit status 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import copy_store, sample_rows, snapshot, synthetic_accuracy, write_jsonl

from grokviz.cli import main
from grokviz.errors import StoreError
from grokviz.store import analyses, locks
from grokviz.store.appended import append_table
from grokviz.store.doctor import diagnose
from grokviz.store.layout import Store
from grokviz.store.schemas import ACCURACY_SCHEMA

STEP_200 = "runs/tiny/checkpoints/step=000000200"
OLD = time.time() - 3600  # an hour ago: older than doctor's grace period


@pytest.fixture
def store(analyzed_store, tmp_path) -> Store:
    """A copy of a real, analysed store (3 checkpoints, accuracy, the latest analysis)."""
    return copy_store(analyzed_store, tmp_path / "data")


def age(path: Path, when: float = OLD) -> Path:
    """Set the modification time of `path` and everything under it."""
    for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
        os.utime(item, (when, when))
    return path


def tmp_name(name: str) -> str:
    return f".{name}.{uuid.uuid4().hex}.tmp"


def kinds(found) -> list[tuple[str, str]]:
    return sorted((f.kind, f.path) for f in found)


def doctor(store: Store, *flags: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    status = main(["doctor", "--store", str(store.root), *flags])
    return status, capsys.readouterr().out


def test_a_healthy_store_exits_0_and_says_so(store, capsys):
    assert diagnose(store) == []
    status, out = doctor(store, capsys=capsys)
    assert status == 0 and out.strip() == f"store {store.root}: healthy"
    status, out = doctor(store, "--run", "tiny", "--json", capsys=capsys)
    assert status == 0 and json.loads(out) == {"store": str(store.root), "run": "tiny", "healthy": True, "findings": []}


def test_a_run_still_being_built_without_checkpoints_is_healthy(store, capsys):
    """A demo build (its live monitor) records the run before its first checkpoint lands."""
    store.write_run_info("fresh", store.run_info("tiny")["model"], {"monitor": {"run": "fresh"}})
    assert diagnose(store, "fresh") == []
    assert doctor(store, capsys=capsys)[0] == 0


def test_extraction_records_a_weights_fingerprint_per_step(store):
    prints = [pq.read_table(p).column("fingerprint")[0].as_py()
              for p in sorted(store.root.glob("runs/tiny/checkpoints/step=*/checkpoint.parquet"))]
    assert len(prints) == 3 and len(set(prints)) == 3 and all(p.startswith("weights:") for p in prints)


TRUNCATED = [f"{STEP_200}/router.parquet", f"{STEP_200}/checkpoint.parquet",
             f"{STEP_200}/shard-0-of-1/part-00000.samples.parquet", f"{STEP_200}/shard-0-of-1/part-00000.tokens.parquet",
             "runs/tiny/samples.parquet", "LATEST/pathways.parquet", "LATEST/settings.json", "runs/tiny/run.json"]


@pytest.mark.parametrize("name", TRUNCATED, ids=[n.rsplit("/", 1)[-1] for n in TRUNCATED])
def test_a_truncated_file_is_reported_by_name(name, store, capsys):
    path = store.root / name.replace("LATEST", f"runs/tiny/analysis/{analyses.latest_key(store, 'tiny')}")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    found = diagnose(store)
    assert [(f.kind, f.path) for f in found if f.kind == "unreadable"] == [("unreadable", str(path))]
    status, out = doctor(store, capsys=capsys)
    assert status == 1 and f"unreadable  {path}: unreadable" in out
    assert len([line for line in out.splitlines() if line.startswith("unreadable")]) == 1


def plant_orphans(store: Store) -> dict[str, Path]:
    """One leftover of each kind a killed writer leaves, an hour old."""
    run = store.run_dir("tiny")
    key = analyses.latest_key(store, "tiny")
    partial = run / "analysis" / f"{key}.partial-1a2b3c4d"
    shutil.copytree(run / "analysis" / key, partial)
    (partial / locks.LOCK_NAME).write_text("pid 1 on elsewhere\n")  # its writer died
    planted = {"analysis": partial,
               "run": run / tmp_name("samples.parquet"),
               "step": store.root / STEP_200 / tmp_name("router.parquet"),
               "appended": run / "tables" / "accuracy" / tmp_name("held-out.parquet"),
               "shard": store.root / STEP_200 / "shard-0-of-1" / tmp_name("part-00001.samples.parquet"),
               "root": store.root / tmp_name("store.json")}
    for name, path in planted.items():
        if name != "analysis":
            path.write_bytes(b"half a file")
    return {name: age(path) for name, path in planted.items()}


def test_orphans_are_reported_and_fix_removes_them_and_nothing_else(store, capsys):
    planted = plant_orphans(store)
    unfinished = store.shard_dir("tiny", 400, (0, 1), partial=True)  # an extraction stopped in step 400
    shutil.copytree(store.shard_dir("tiny", 300, (0, 1), partial=False), unfinished)
    resumable = unfinished / tmp_name("part-00002.samples.parquet")  # that extraction's resume cleans it
    resumable.write_bytes(b"half a part")
    age(unfinished)
    fresh = store.run_dir("tiny") / tmp_name("route_ids.parquet")  # may be a write starting now
    fresh.write_bytes(b"")
    found = diagnose(store)
    assert kinds(f for f in found if f.kind == "orphan") == sorted(("orphan", str(p)) for p in planted.values())
    assert [(f.kind, f.step, f.live) for f in found if f.kind == "incomplete"] == [("incomplete", 400, False)]
    assert len(found) == len(planted) + 1

    before = snapshot(store.root)
    status, out = doctor(store, "--fix", capsys=capsys)
    assert status == 1  # the unfinished shard is still there to act on
    assert out.count("[removed]") == len(planted) and "1 finding(s) to act on, 6 leftover(s) removed" in out
    gone = {str(p.relative_to(store.root)) for p in planted.values()}
    expected = {name: digest for name, digest in before.items()
                if not any(name == g or name.startswith(g + "/") for g in gone)}
    assert snapshot(store.root) == expected  # nothing else changed, the resumable temporary file included
    assert not any(p.exists() for p in planted.values()) and resumable.exists() and fresh.exists()
    assert [(f.kind, f.step) for f in diagnose(store)] == [("incomplete", 400)]


def test_nothing_a_live_writer_holds_is_removed(store, capsys):
    run = store.run_dir("tiny")
    held_file = run / tmp_name("samples.parquet")
    with open(held_file, "wb") as handle, \
            locks.folder_lock(run / "analysis" / "0123456789abcdef.partial-00000000", "a test analysis") as lock, \
            store.shard_writer("tiny", 400, (0, 1)):
        locks.hold(handle)
        age(held_file)
        age(lock.parent)  # held, though old: the lock decides
        before = snapshot(store.root)
        status, out = doctor(store, "--fix", capsys=capsys)
        assert status == 0, out  # live writers are no problem
        assert snapshot(store.root) == before
        found = diagnose(store, fix=True)
        assert [(f.kind, f.live) for f in found] == [("incomplete", True), ("incomplete", True)]
        assert f"pid {os.getpid()}" in found[0].message and f"pid {os.getpid()}" in found[1].message


def test_a_second_writer_of_the_same_shard_is_refused(store, monkeypatch):
    monkeypatch.setattr(locks, "WAIT_S", 0.2)  # it waits out a doctor's probe, not another writer
    with store.shard_writer("tiny", 100, (0, 1)), pytest.raises(StoreError, match="being written by another process"):
        with store.shard_writer("tiny", 100, (0, 1)):
            pass


def test_an_analysis_whose_inputs_changed_is_stale(store, capsys):
    append_table(store, "tiny", "accuracy", synthetic_accuracy("tiny", {"odd": ["s001"]}, [100, 200, 300]),
                 schema=ACCURACY_SCHEMA, part="late")
    found = diagnose(store, "tiny")
    assert [f.kind for f in found] == ["stale"] and "accuracy: 1 new, 0 gone" in found[0].message
    status, out = doctor(store, "--json", capsys=capsys)
    report = json.loads(out)
    assert status == 1 and not report["healthy"] and report["findings"][0]["kind"] == "stale"
    assert report["findings"][0]["path"] == str(store.run_dir("tiny") / "analysis" / analyses.latest_key(store, "tiny"))


def test_bad_input_is_one_line_and_status_2(tmp_path, store, capsys):
    for args in (["--store", str(tmp_path / "nowhere")], ["--store", str(store.root), "--run", "nope"]):
        capsys.readouterr()
        assert main(["doctor", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("grokviz: error: ") and "\n" not in err


@pytest.fixture(scope="module")
def duplicated(series_factory, tmp_path_factory):
    """A series whose step 250 is a copy of step 200's folder, extracted into a store."""
    root = tmp_path_factory.mktemp("duplicated")
    series = shutil.copytree(series_factory("olmoe"), root / "series")
    shutil.copytree(series / "step200", series / "step250")
    samples = write_jsonl(root / "s.jsonl", sample_rows(4))
    args = ["extract", "--model", str(series), "--samples", str(samples), "--run", "r", "--quiet"]
    assert main([*args, "--store", str(root / "data")]) == 0
    return Store(root / "data", create=False), args


def test_two_steps_with_identical_weights_are_reported(duplicated, capsys):
    store, _ = duplicated
    found = diagnose(store)
    assert [(f.kind, f.step) for f in found] == [("identical", 250)]
    assert "steps 200 (" in found[0].message and ", 250 (" in found[0].message and "identical weights" in found[0].message
    status, out = doctor(store, "--run", "r", capsys=capsys)
    assert status == 1 and out.startswith("identical   run 'r': steps 200")


def test_a_step_recorded_by_an_older_grokviz_resumes_and_stays_readable(duplicated, tmp_path):
    """checkpoint.parquet without the fingerprint column (stores written before it): a resumed
    extraction keeps it, the views read both kinds, and doctor compares router weights there."""
    from grokviz.store.tables import Tables

    source, args = duplicated
    store = copy_store(source, tmp_path / "data")
    record = store.step_dir("r", 100) / "checkpoint.parquet"
    old = pq.read_table(record).drop_columns(["fingerprint"])
    pq.write_table(old, record)
    shutil.rmtree(store.shard_dir("r", 100, (0, 1), partial=False))
    assert main([*args, "--store", str(store.root)]) == 0
    assert pq.read_table(record).equals(old)
    with Tables(store, "r") as tables:
        assert tables.table("checkpoints")["step"].tolist() == [100, 200, 250, 300]
    assert [(f.kind, f.step) for f in diagnose(store)] == [("identical", 250)]
