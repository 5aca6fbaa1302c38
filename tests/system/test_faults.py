"""Faults, with real processes: the store survives SIGKILL, a full disk and a truncated file.

(a) An extraction SIGKILLed at seeded points all through a run, each time resumed by a new
    process, ends with exactly the tables of an uninterrupted run; between kills, readers see
    whole checkpoints only.
(b) An `analyze` SIGKILLed mid-computation or mid-publication shows nothing partial: the latest
    pointer is unchanged and no analysis folder without settings.json is ever read; a rerun
    completes.
(c) A full disk on the shard write path is one clear `StoreError` line; the store stays readable
    and a rerun after freeing space completes it.
(d) A truncated store file is a `StoreError` naming it wherever it is read (the dashboard shows
    that line instead of a page), never used silently.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import random
import shutil
import signal
import sys
import time
import types
from pathlib import Path

import pytest
from factories import ROOT, sample_rows, write_jsonl

import grokviz.store.layout
from grokviz.cli import main
from grokviz.config import ExtractConfig
from grokviz.errors import StoreError
from grokviz.extract.run import extract
from grokviz.names import EXTRACTION_TABLES
from grokviz.store import analyses, appended
from grokviz.store.layout import Store
from grokviz.store.tables import Tables, read_checkpoints, read_router_weights, read_samples_table, read_step
from grokviz.synthetic.runs import SyntheticSpec, write_synthetic

SEED = 2506_21551  # the paper's arXiv id: kill points are the same on every run
KILL_POINTS = 20
N_SAMPLES = 64  # / part size 4 = 16 parts per checkpoint, 48 in all: kills land inside all three
TOTAL_PARTS = 3 * N_SAMPLES // 4


def tables_equal(a: Path, b: Path, run: str = "r") -> None:
    with Tables(Store(a, create=False), run) as left, Tables(Store(b, create=False), run) as right:
        for table in EXTRACTION_TABLES:
            assert left.table(table).equals(right.table(table)), table


def only_whole_checkpoints_visible(root: Path, n_samples: int) -> None:
    store = Store(root, create=False)
    complete = sorted({step for step, _ in store.complete_shards("r")})
    with Tables(store, "r") as tables:
        counts = tables.query("SELECT step, count(*) AS n FROM losses GROUP BY step ORDER BY step")
    assert counts["step"].tolist() == complete and counts["n"].eq(n_samples).all(), counts


# --- (a) SIGKILL during extraction --------------------------------------------------------------
@pytest.fixture(scope="module")
def forkserver():
    """Processes forked from a server that imported torch, transformers and pandas once, so each of
    the many extraction and analysis processes starts in milliseconds instead of seconds."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["grokviz.cli", "grokviz.extract.run", "grokviz.analysis.run",
                                    "transformers.models.olmoe.modeling_olmoe"])
    return context


def start(forkserver, target, *args, **kwargs):
    """Start `target(*args, **kwargs)` in a process forked from the server. A bare `__main__` is
    shown to multiprocessing meanwhile: Streamlit's AppTest leaves app.py there, which the
    child would otherwise run again."""
    process = forkserver.Process(target=target, args=args, kwargs=kwargs, daemon=True)
    real_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        sys.modules["__main__"] = real_main
    return process


def start_extraction(forkserver, config: ExtractConfig, root: Path):
    return start(forkserver, extract, config, Store(root), progress=False)


def parts_stored(root: Path) -> int:
    return sum(1 for _ in root.glob("runs/r/checkpoints/step=*/shard-*/part-*.samples.parquet"))


def checkpoints_in_progress(root: Path) -> set[str]:
    """Checkpoints with some parts stored but not yet complete (a kill now lands inside them)."""
    return {p.parent.parent.name for p in root.glob("runs/r/checkpoints/step=*/shard-*.partial/part-*.samples.parquet")}


def kill_after(process, root: Path, target: int, delay: float, timeout: float = 120.0) -> bool:
    """SIGKILL `delay` s after at least `target` parts are stored; False if the run ended first."""
    deadline = time.monotonic() + timeout
    while parts_stored(root) < target and process.is_alive():
        assert time.monotonic() < deadline, "extraction stalled"
        time.sleep(0.002)
    time.sleep(delay)
    if not process.is_alive():
        process.join()
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL
    return True


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_at_seeded_points_then_resume_gives_the_uninterrupted_tables(forkserver, series_factory, tmp_path):
    config = ExtractConfig(run="r", model=str(series_factory("olmoe")), device="cpu", part_size=4, token_budget=32,
                           samples=str(write_jsonl(tmp_path / "s.jsonl", sample_rows(N_SAMPLES))), token_routes=3)
    clean = start_extraction(forkserver, config, tmp_path / "clean")
    clean.join()
    assert clean.exitcode == 0

    # Kill points are absolute part counts (seeded, increasing, all before the last few parts), so
    # how fast this machine writes parts changes where a kill lands by a part or two, never
    # whether the run is still alive to be killed.
    killed, rng, inside = tmp_path / "killed", random.Random(SEED), []
    targets = sorted(rng.sample(range(1, TOTAL_PARTS - 3), KILL_POINTS))
    for point, target in enumerate(targets):
        process = start_extraction(forkserver, config, killed)
        assert kill_after(process, killed, target, rng.uniform(0.0, 0.01)), f"run ended before kill point {point}"
        inside += checkpoints_in_progress(killed)
        only_whole_checkpoints_visible(killed, N_SAMPLES)
    resumed = start_extraction(forkserver, config, killed)
    resumed.join()
    assert resumed.exitcode == 0
    assert len(inside) >= KILL_POINTS // 2 and len(set(inside)) == 3, f"kills inside checkpoints: {inside}"
    tables_equal(killed, tmp_path / "clean")
    assert not list(killed.glob("runs/r/checkpoints/*/shard-*/.*.tmp")), "orphans published in a shard"


# --- (b) SIGKILL during analyze -------------------------------------------------------------------
def analysis_folders(store: Store) -> dict[str, bool]:
    """Folder name -> has settings.json, for every analysis folder under the run's analysis/ (not
    the step cache, whose entries are single files written atomically)."""
    base = store.run_dir("syn") / "analysis"
    return {p.name: (p / "settings.json").exists() for p in base.iterdir() if p.is_dir() and p.name != "steps"}


def nothing_partial_visible(store: Store, key: str, latest_bytes: bytes, pathways: int) -> None:
    assert analyses.latest_key(store, "syn") == key
    assert (store.run_dir("syn") / "analysis" / "latest.json").read_bytes() == latest_bytes
    assert all(".partial-" in name for name, whole in analysis_folders(store).items() if not whole)
    with Tables(store, "syn") as tables:
        assert tables.query("SELECT count(*) AS n FROM pathways")["n"][0] == pathways


ANALYZE = ["analyze", "--run", "syn", "--no-pairing", "--no-projection", "--top-k", "4", "--delta", "0.06",
           "--force", "--quiet"]


def kill_analyze(forkserver, root: Path, delay: float | None) -> bool:
    """SIGKILL an analyze `delay` s after it started, or (None) as soon as its `.partial` folder
    appears; False if it finished first."""
    process, started = start(forkserver, main, [*ANALYZE, "--store", str(root)]), time.monotonic()
    publishing = lambda: any((root / "runs" / "syn" / "analysis").glob("*.partial-*"))  # noqa: E731
    while process.is_alive() and not (publishing() if delay is None else time.monotonic() - started > delay):
        time.sleep(0.0005)
    if not process.is_alive():
        process.join()
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    return True


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_during_analyze_leaves_the_previous_result_and_a_rerun_completes(forkserver, tmp_path):
    from grokviz.analysis.run import analyze
    from grokviz.config import AnalyzeConfig

    store = Store(tmp_path / "data")
    write_synthetic(store, SyntheticSpec(run="syn", checkpoints=6, groups=4, samples=60, items=20, part_size=64))
    before = analyze(AnalyzeConfig(run="syn", top_k=4, tau=None, pairing=False, projection=False), store,
                     progress=False)  # the same work as ANALYZE, other settings (delta)
    latest = (store.run_dir("syn") / "analysis" / "latest.json").read_bytes()
    rng = random.Random(SEED)
    for delay in (rng.uniform(0.1, 0.6) * before.seconds, rng.uniform(0.1, 0.6) * before.seconds, None):
        for _ in range(3):  # a kill that came too late published B: point back at A, try again
            shutil.rmtree(store.run_dir("syn") / "analysis" / "steps", ignore_errors=True)  # all the work, as timed
            if kill_analyze(forkserver, store.root, delay):
                break
            analyses.write_latest(store, "syn", before.key)
        else:
            pytest.fail(f"analyze ended before the kill point ({delay}) three times")
        nothing_partial_visible(store, before.key, latest, before.rows["pathways"])
    rerun = start(forkserver, main, [*ANALYZE, "--store", str(store.root)])
    rerun.join()
    assert analyses.latest_key(store, "syn") not in (None, before.key)
    assert analysis_folders(store)[analyses.latest_key(store, "syn")]


def test_an_analysis_folder_without_settings_is_never_read(analyzed_store, tmp_path):
    store = Store(shutil.copytree(analyzed_store.root, tmp_path / "data"))
    half = store.run_dir("tiny") / "analysis" / "0123456789abcdef"
    shutil.copytree(store.run_dir("tiny") / "analysis" / analyses.latest_key(store, "tiny"), half)
    (half / "settings.json").unlink()  # what a publication cut short would look like
    analyses.write_latest(store, "tiny", half.name)
    assert analyses.latest_key(store, "tiny") is None
    with pytest.raises(StoreError, match="has no 'pathways' table yet"):
        analyses.read_analysis(store, "tiny", "pathways")
    with Tables(store, "tiny") as tables:
        assert tables.query("SELECT count(*) AS n FROM pathways")["n"][0] == 0


# --- (c) a full disk ------------------------------------------------------------------------------
def fill_disk_after(monkeypatch, stored: int, where: str) -> None:
    """From the (stored+1)-th shard file on, `handle.write` or `os.fsync` fails with ENOSPC."""
    count, real_open, real_fsync = [0], open, os.fsync
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    class FullHandle:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise full

        def __getattr__(self, name):
            return getattr(self.handle, name)

    def opener(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "shard-" not in str(path):
            return handle
        count[0] += 1
        return FullHandle(handle) if where == "write" and count[0] > stored else handle

    def fsync(fd: int) -> None:
        if where == "fsync" and count[0] > stored and "shard-" in os.readlink(f"/proc/self/fd/{fd}"):
            raise full
        real_fsync(fd)

    monkeypatch.setattr(grokviz.store.layout, "open", opener, raising=False)
    monkeypatch.setattr(grokviz.store.layout.os, "fsync", fsync)


@pytest.fixture(scope="module")
def extraction(tmp_path_factory, series_factory):
    """Arguments of a small extraction (12 samples, 3 parts per checkpoint) and its clean store."""
    folder = tmp_path_factory.mktemp("disk-full")
    args = ["extract", "--model", str(series_factory("olmoe")), "--samples",
            str(write_jsonl(folder / "s.jsonl", sample_rows(12))), "--run", "r", "--part-size", "4", "--quiet"]
    assert main([*args, "--store", str(folder / "clean")]) == 0
    return args, folder / "clean"


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_is_one_clear_error_and_the_store_stays_readable(where, extraction, tmp_path, monkeypatch, capsys):
    args, clean = extraction
    root = tmp_path / "data"
    fill_disk_after(monkeypatch, 8, where)  # step 100's 6 files and step 200's first part stored
    assert main([*args, "--store", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "disk full" in err and "shard-0-of-1.partial/part-" in err, err
    assert not list(root.rglob("*.tmp")), "a temporary file was left behind"
    only_whole_checkpoints_visible(root, 12)
    assert [step for step, _ in Store(root).complete_shards("r")] == [100]
    monkeypatch.undo()  # space freed
    assert main([*args, "--store", str(root)]) == 0
    tables_equal(root, clean)


# --- (d) a truncated file -------------------------------------------------------------------------
STEP_200 = "runs/tiny/checkpoints/step=000000200"
TRUNCATED = [  # (file, how a reader meets it)
    pytest.param(f"{STEP_200}/shard-0-of-1/part-00000.samples.parquet", lambda s: read_step(s, "tiny", 200),
                 id="part-samples"),
    pytest.param(f"{STEP_200}/shard-0-of-1/part-00000.tokens.parquet", lambda s: Tables(s, "tiny"), id="part-tokens"),
    pytest.param(f"{STEP_200}/checkpoint.parquet", lambda s: read_checkpoints(s, "tiny"), id="checkpoint"),
    pytest.param(f"{STEP_200}/router.parquet", lambda s: read_router_weights(s, "tiny", 200), id="router"),
    pytest.param("runs/tiny/samples.parquet", lambda s: read_samples_table(s, "tiny"), id="samples"),
    pytest.param("runs/tiny/tables/accuracy/held-out.parquet",
                 lambda s: appended.read_appended(s, "tiny", "accuracy"), id="accuracy-part"),
    pytest.param("LATEST/pathways.parquet", lambda s: analyses.read_analysis(s, "tiny", "pathways"), id="analysis"),
]


@pytest.mark.parametrize("name, reader", TRUNCATED)
def test_a_truncated_store_file_is_reported_by_name_never_used(name, reader, analyzed_store, tmp_path, capsys):
    store = Store(shutil.copytree(analyzed_store.root, tmp_path / "data"))
    latest = f"runs/tiny/analysis/{analyses.latest_key(store, 'tiny')}"
    path = store.root / name.replace("LATEST", latest)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(StoreError, match="unreadable store file, truncated or corrupt") as raised:
        reader(store)
    assert str(path) in str(raised.value)
    if not name.endswith("router.parquet"):  # every other file is behind a DuckDB view
        with pytest.raises(StoreError, match=str(path).replace(".", r"\.")):
            Tables(store, "tiny")
        assert main(["export", "--store", str(store.root), "--run", "tiny", "--table", "losses",
                     "--out", str(tmp_path / "out.csv")]) == 2
        assert str(path) in capsys.readouterr().err


def test_the_dashboard_names_a_truncated_file_instead_of_failing(analyzed_store, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    store = Store(shutil.copytree(analyzed_store.root, tmp_path / "data"))
    path = store.root / STEP_200 / "shard-0-of-1" / "part-00000.samples.parquet"
    path.write_bytes(path.read_bytes()[:100])
    monkeypatch.setenv("GROKVIZ_STORE", str(store.root))
    at = AppTest.from_file(str(ROOT / "grokviz" / "dashboard" / "app.py"), default_timeout=60).run()
    assert not at.exception and str(path) in at.error[0].value
