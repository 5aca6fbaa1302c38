"""`grokviz doctor`: check a store and its checkpoints, remove what killed writers left behind.

`diagnose(store, run=None, fix=False)` returns a list of `Finding`s (`findings.py`), from:

- files: every file the store's tables depend on is read in full (run.json, samples, route ids,
  each step's checkpoint record and router weights, every part of every shard, appended tables,
  every published analysis and the latest pointer); one that cannot be read is `unreadable`;
- writers: `shard-*.partial` folders (an extraction's unfinished shard: `incomplete`, live or
  not; never removed, a rerun of `extract` resumes it), analysis `HASH.partial-*` folders and
  `.NAME.UUID.tmp` files outside unfinished shards (`orphan` when no live writer holds them);
- analyses: the latest analysis of a run was computed on inputs (`analyses.input_fingerprint`,
  kept in its settings.json) that differ from the store's now: `stale`;
- checkpoints: identical weights and jumps (`integrity.py`).

With `fix`, orphans are removed, and nothing else is touched. An orphan is removed only while
this process holds its writer's lock (`locks.py`: a live writer's lock cannot be taken) and only
when nothing in it changed for `GRACE_S` seconds; anything held or newer is reported as live.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from grokviz.errors import StoreError
from grokviz.store import analyses, integrity, locks
from grokviz.store.findings import Finding
from grokviz.store.layout import TMP_SUFFIX, Store, read_json, unreadable


def diagnose(store: Store, run: str | None = None, *, fix: bool = False,
             grace_s: float = locks.GRACE_S) -> list[Finding]:
    """Every finding in the store (or one run of it); with `fix`, orphans are removed first."""
    if run is not None and run not in store.runs():
        store.run_info(run)  # a StoreError naming the runs there are
    runs = [run] if run else store.runs()
    found: list[Finding] = []
    if run is None:
        found += _loose_runs(store)
        found += _orphan_files(store, None, store.root.glob(f".*{TMP_SUFFIX}"), fix, grace_s)
    for name in runs:
        found += check_writers(store, name, fix=fix, grace_s=grace_s)
        found += check_files(store, name)
        found += check_analysis(store, name)
        found += integrity.check_series(store, name)
    return found


# --- files ------------------------------------------------------------------------------------
def check_files(store: Store, run: str) -> list[Finding]:
    """Read every file the run's tables depend on; one `unreadable` finding per bad file."""
    base = store.run_dir(run)
    found = []
    for path in [base / "run.json", *_json_files(base)]:
        try:
            read_json(path)
        except StoreError as err:
            if path.exists():
                found.append(Finding("unreadable", str(err), run=run, path=str(path)))
    for path in _parquet_files(base):
        error = parquet_error(path)
        if error is not None and path.exists():  # one that vanished was published or removed meanwhile
            found.append(Finding("unreadable", str(error), run=run, path=str(path)))
    return found


def _json_files(base: Path) -> Iterator[Path]:
    folder = base / "analysis"
    if (folder / "latest.json").exists():
        yield folder / "latest.json"
    for key in _analysis_dirs(base):
        if (key / "settings.json").exists():
            yield key / "settings.json"


def _parquet_files(base: Path) -> Iterator[Path]:
    yield from (base / name for name in ("samples.parquet", "route_ids.parquet") if (base / name).exists())
    for step in sorted((base / "checkpoints").glob("step=*")):
        yield from (step / name for name in ("checkpoint.parquet", "router.parquet") if (step / name).exists())
        for shard in sorted(step.glob("shard-*")):  # unfinished ones too: a resume trusts their parts
            yield from sorted(shard.glob("*.parquet"))
    yield from sorted((base / "tables").glob("*/*.parquet"))
    for key in _analysis_dirs(base):
        yield from sorted(key.glob("*.parquet"))


def _analysis_dirs(base: Path) -> list[Path]:
    folder = base / "analysis"
    return sorted(p for p in folder.glob("*") if analyses.KEY.fullmatch(p.name) and p.is_dir())


def parquet_error(path: Path) -> StoreError | None:
    """Read a Parquet file in full, one row group at a time; the error naming it, or None."""
    try:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            parquet.read_row_group(group)
    except (pa.ArrowException, OSError) as err:
        return unreadable(path, err)
    return None


# --- writers and what killed ones left ------------------------------------------------------------
def check_writers(store: Store, run: str, *, fix: bool = False, grace_s: float = locks.GRACE_S) -> list[Finding]:
    """Unfinished shards (reported, never removed), unfinished analyses and temporary files
    (orphans when no live writer holds them; removed with `fix`)."""
    base = store.run_dir(run)
    found = [_partial_shard(store, run, folder, grace_s)
             for folder in sorted((base / "checkpoints").glob("step=*/shard-*.partial"))]
    found = [f for f in found if f is not None]
    for folder in sorted((base / "analysis").glob("*.partial-*")):
        finding = _partial_analysis(run, folder, fix, grace_s)
        found += [finding] if finding else []
    loose = (p for p in base.rglob(f".*{TMP_SUFFIX}") if not _in_unfinished_folder(p, base))
    return found + _orphan_files(store, run, loose, fix, grace_s)


def _partial_shard(store: Store, run: str, folder: Path, grace_s: float) -> Finding | None:
    with locks.probe(folder / locks.LOCK_NAME) as state:
        parts = len(list(folder.glob("part-*.samples.parquet")))
        step = int(folder.parent.name[5:])
        who = locks.holder(folder / locks.LOCK_NAME)
        recent = _recent(folder, grace_s)
        if not folder.exists():  # published meanwhile
            return None
        if state == "held" or recent:  # free but recent: its writer may be starting
            what = (f"by {who or 'a live process'}" if state == "held"
                    else "changed in the last minute, its writer may be starting or finishing")
            return Finding("incomplete", f"{folder}: unfinished shard being written ({what}; {parts} parts so far)",
                           run=run, path=str(folder), step=step, live=True)
    return Finding("incomplete", (
        f"{folder}: unfinished shard ({parts} parts stored), no live writer: an extraction of step {step} "
        f"stopped; rerun the same `grokviz extract ... --run {run}` to resume it (stored parts are kept), "
        "or remove the folder to drop that checkpoint"), run=run, path=str(folder), step=step)


def _partial_analysis(run: str, folder: Path, fix: bool, grace_s: float) -> Finding | None:
    with locks.probe(folder / locks.LOCK_NAME) as state:
        recent = _recent(folder, grace_s)
        if not folder.exists():  # published meanwhile
            return None
        if state == "held" or recent:
            who = locks.holder(folder / locks.LOCK_NAME) or "a live process"
            what = f"by {who}" if state == "held" else "changed in the last minute, left alone"
            return Finding("incomplete", f"{folder}: analysis being written ({what})", run=run,
                           path=str(folder), live=True)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        message = (f"{folder}: unfinished analysis of a killed `analyze` ({size:,} bytes); nothing reads "
                   "it: `grokviz doctor --fix` removes it")
        if fix:  # still holding its lock (or it had none), so no writer can take it meanwhile
            shutil.rmtree(folder, ignore_errors=True)
        return Finding("orphan", message, run=run, path=str(folder), fixed=fix and not folder.exists())


def _orphan_files(store: Store, run: str | None, paths, fix: bool, grace_s: float) -> list[Finding]:
    """Temporary files no live writer holds and that did not change for `grace_s` (a write in
    progress is not a finding)."""
    found = []
    for path in sorted(paths):
        with locks.probe(path) as state:
            if state in ("held", "missing") or _recent(path, grace_s):
                continue
            try:
                size = path.stat().st_size
            except OSError:  # renamed or removed meanwhile
                continue
            if fix:
                path.unlink(missing_ok=True)
            found.append(Finding("orphan", (
                f"{path}: temporary file of a write that never finished ({size:,} bytes); nothing reads it: "
                "`grokviz doctor --fix` removes it"), run=run, path=str(path), fixed=fix and not path.exists()))
    return found


def _in_unfinished_folder(path: Path, base: Path) -> bool:
    """Inside a `shard-*.partial` folder (the extraction's resume cleans it) or an analysis
    `.partial-*` folder (handled as a whole)."""
    for parent in path.relative_to(base).parents:
        name = parent.name
        if (name.startswith("shard-") and name.endswith(".partial")) or ".partial-" in name:
            return True
    return False


def _recent(path: Path, grace_s: float) -> bool:
    return locks.newest_change(path) > time.time() - grace_s


def _loose_runs(store: Store) -> list[Finding]:
    """Run folders without run.json: an extraction stopped before its first checkpoint loaded."""
    base = store.root / "runs"
    loose = [p for p in sorted(base.iterdir()) if p.is_dir() and not (p / "run.json").exists()] if base.exists() else []
    return [Finding("incomplete", (
        f"{folder}: a run folder without run.json (an extraction stopped before its first checkpoint "
        f"loaded); nothing reads it: rerun that extraction, or remove the folder"), run=folder.name,
        path=str(folder)) for folder in loose]


# --- analyses -------------------------------------------------------------------------------------
def check_analysis(store: Store, run: str) -> list[Finding]:
    """The latest analysis against the inputs the store holds now; analysis folders never read."""
    base = store.run_dir(run) / "analysis"
    found = [Finding("incomplete", (f"{key}: an analysis folder without settings.json is never read (copied in, "
                                    "or cut short); remove it"), run=run, path=str(key))
             for key in _analysis_dirs(store.run_dir(run)) if not (key / "settings.json").exists()]
    pointer = base / "latest.json"
    try:
        key = analyses.latest_key(store, run)
        if key is None:
            if pointer.exists():
                found.append(Finding("stale", (f"{pointer}: points to an analysis that is not in the store; the "
                                               f"dashboard shows none: rerun `grokviz analyze --run {run}`"),
                                     run=run, path=str(pointer)))
            return found
        recorded = read_json(analyses.analysis_dir(store, run, key) / "settings.json").get("inputs")
        now = analyses.input_fingerprint(store, run)
    except (StoreError, OSError):  # an unreadable file: the file check names it
        return found
    if recorded != now:
        folder = analyses.analysis_dir(store, run, key)
        found.append(Finding("stale", (
            f"{folder}: the latest analysis of run {run!r} was computed on other inputs than the store holds "
            f"now ({input_changes(recorded or {}, now)}); rerun `grokviz analyze --run {run}` with its "
            "settings (in its settings.json) to bring it up to date"), run=run, path=str(folder)))
    return found


def input_changes(recorded: dict, now: dict) -> str:
    """What differs between two input fingerprints, in words.

    >>> input_changes({"shards": ["1:0/1"], "accuracy": ["a:10"]}, {"shards": ["1:0/1", "2:0/1"], "accuracy": ["a:10"]})
    'shards: 1 new, 0 gone'
    """
    parts = []
    for key in sorted(set(recorded) | set(now)):
        before, after = set(recorded.get(key, ())), set(now.get(key, ()))
        if before != after:
            parts.append(f"{key}: {len(after - before)} new, {len(before - after)} gone")
    return "; ".join(parts) or "same files, other order"
