"""The store: a folder of immutable Parquet shards plus JSON metadata, written atomically.

Layout (DESIGN.md "The store"; README has the annotated tree):

    STORE/store.json                                  format and schema version
    STORE/runs/RUN/run.json                           model shape + provenance of every call
    STORE/runs/RUN/samples.parquet                    the run's samples (written once)
    STORE/runs/RUN/checkpoints/step=N/checkpoint.parquet   step, tokens, revision, path
    STORE/runs/RUN/checkpoints/step=N/router.parquet       router weight matrices (float16)
    STORE/runs/RUN/checkpoints/step=N/shard-I-of-K[.partial]/part-P.{samples,tokens}.parquet
    STORE/runs/RUN/tables/NAME/...                    other tables (accuracy, analysis, monitor)
    STORE/models/RUN/                                 `grokviz demo`: checkpoints, samples, demo.json

Every file is written under a temporary name and renamed into place, so a reader (another
process, the dashboard) sees a file whole or not at all; a shard folder loses its `.partial`
suffix only when complete. Readers never lock: queries run in an in-memory DuckDB over the
files (see `tables.py`). Writers hold a lock on what they are writing (a temporary file, a
`.partial` folder; see `locks.py`), so `grokviz doctor` can tell their files from a killed
writer's leftovers. This module owns paths, atomic writes and the schema version.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from grokviz.config import check_run_name
from grokviz.errors import StoreError
from grokviz.store import locks

SCHEMA_VERSION = 1
FORMAT = "grokviz-store"
TMP_SUFFIX = ".tmp"  # `.NAME.UUID.tmp`: a write in progress, or an orphan of a killed writer
# version -> function upgrading a store from that version to the next; applied in order.
MIGRATIONS: dict[int, Callable[[Path], None]] = {}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and rename (readers see all or nothing).

    A full disk (or quota) is a `StoreError` naming the file; what was stored before is intact.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            locks.hold(handle)  # until the rename: `doctor --fix` leaves a locked temporary file alone
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if locks.fcntl is not None:
                os.replace(tmp, path)
        if locks.fcntl is None:  # pragma: no cover - elsewhere an open file cannot be renamed
            os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StoreError(f"{path}: disk full ({err.strerror or err}); nothing stored before was "
                             "changed: free space, then rerun the same command to resume") from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read one stored Parquet file; a truncated or corrupt one is a `StoreError` naming it."""
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as err:
        raise unreadable(path, err) from None


def unreadable(path: str | Path, err: BaseException) -> StoreError:
    """The error for a store file that cannot be read (truncated, corrupt, vanished)."""
    reason = (str(err).splitlines() or [type(err).__name__])[0].replace(f"'{path}'", "it")[:200]
    return StoreError(f"{path}: unreadable store file, truncated or corrupt ({reason}); nothing "
                      "reads it: remove it (a part file: its whole shard-* folder) and rerun the "
                      "command that wrote it")


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a Parquet file atomically (zstd, statistics on)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def atomic_write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically, pretty-printed for people who open it."""
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON metadata file, with an error naming it when it is corrupt."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StoreError(f"{path}: unreadable store metadata ({err})") from None


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created if missing) for the block; without
    `fcntl` (Windows) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Store:
    """A store folder. Creating one on a new folder writes `store.json`; an existing store is
    checked: a newer schema version is refused, an older one migrated explicitly."""

    def __init__(self, root: str | Path, *, create: bool = True) -> None:
        self.root = Path(root)
        meta = self.root / "store.json"
        if not meta.exists():
            if not create:
                raise StoreError(f"{self.root}: no grokviz store here (store.json missing)")
            atomic_write_json(meta, {"format": FORMAT, "schema_version": SCHEMA_VERSION})
        self.schema_version = self._check_version(read_json(meta))

    def _check_version(self, meta: dict[str, Any]) -> int:
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.root}/store.json: not a grokviz store")
        version = meta.get("schema_version")
        if not isinstance(version, int):
            raise StoreError(f"{self.root}/store.json: schema_version missing")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.root}: written by a newer grokviz (schema {version}, this "
                             f"version reads up to {SCHEMA_VERSION}); upgrade grokviz")
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](self.root)
            version += 1
            atomic_write_json(self.root / "store.json", {"format": FORMAT, "schema_version": version})
        return version

    # --- paths -------------------------------------------------------------------------
    def run_dir(self, run: str) -> Path:
        """The folder of one run (the name is validated, so it cannot escape the store)."""
        return self.root / "runs" / check_run_name(run)

    def step_dir(self, run: str, step: int) -> Path:
        return self.run_dir(run) / "checkpoints" / f"step={int(step):09d}"

    def shard_dir(self, run: str, step: int, shard: tuple[int, int], *, partial: bool) -> Path:
        index, count = shard
        name = f"shard-{index}-of-{count}" + (".partial" if partial else "")
        return self.step_dir(run, step) / name

    def table_dir(self, run: str, table: str) -> Path:
        return self.run_dir(run) / "tables" / table

    # --- runs ----------------------------------------------------------------------------
    def runs(self) -> list[str]:
        """Names of the runs in the store, sorted."""
        base = self.root / "runs"
        return sorted(p.name for p in base.iterdir() if (p / "run.json").exists()) if base.exists() else []

    def run_info(self, run: str) -> dict[str, Any]:
        path = self.run_dir(run) / "run.json"
        if not path.exists():
            raise StoreError(f"no run {run!r} in {self.root} (runs: {', '.join(self.runs()) or 'none'})")
        return read_json(path)

    def write_run_info(self, run: str, model: dict[str, Any], provenance: dict[str, Any]) -> None:
        """Record the model shape (checked for consistency on every later call) and provenance.
        Read-modify-write under an exclusive lock, so concurrent shard writers lose no entry."""
        path = self.run_dir(run) / "run.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(path.with_name(".run.json.lock")):
            info = read_json(path) if path.exists() else {"run": run, "model": model, "calls": []}
            check_same_model(info["model"], model, run)
            if provenance not in info["calls"]:
                info["calls"].append(provenance)
            atomic_write_json(path, info)

    # --- shards --------------------------------------------------------------------------
    def complete_shards(self, run: str) -> list[tuple[int, tuple[int, int]]]:
        """(step, (index, count)) of every complete shard of a run."""
        found = []
        for step_dir in sorted((self.run_dir(run) / "checkpoints").glob("step=*")):
            for shard in step_dir.glob("shard-*-of-*"):
                if not shard.name.endswith(".partial") and shard.is_dir():
                    _, index, _, count = shard.name.split("-")
                    found.append((int(step_dir.name[5:]), (int(index), int(count))))
        return found

    def is_complete(self, run: str, step: int, shard: tuple[int, int]) -> bool:
        return self.shard_dir(run, step, shard, partial=False).is_dir()

    def part_path(self, run: str, step: int, shard: tuple[int, int], part: int, kind: str) -> Path:
        return self.shard_dir(run, step, shard, partial=True) / f"part-{part:05d}.{kind}.parquet"

    @contextlib.contextmanager
    def shard_writer(self, run: str, step: int, shard: tuple[int, int]) -> Iterator[None]:
        """Hold the lock of one shard's `.partial` folder while writing the step (see `locks`):
        `doctor` sees a live writer, and a second process writing the same shard is refused."""
        index, count = shard
        with locks.folder_lock(self.shard_dir(run, step, shard, partial=True),
                               f"shard {index}/{count} of step {step} of run {run!r}"):
            yield

    def finish_shard(self, run: str, step: int, shard: tuple[int, int]) -> None:
        """Make a shard visible: rename `shard-i-of-n.partial` to `shard-i-of-n` (atomic).

        Temporary files a killed writer left in the folder are removed first (one writer per
        shard, so at this point every one of them is an orphan), and so is the writer's `.lock`
        (its holder keeps the lock until it closes the file)."""
        partial = self.shard_dir(run, step, shard, partial=True)
        final = self.shard_dir(run, step, shard, partial=False)
        partial.mkdir(parents=True, exist_ok=True)
        for orphan in partial.glob(f".*{TMP_SUFFIX}"):
            orphan.unlink(missing_ok=True)
        (partial / locks.LOCK_NAME).unlink(missing_ok=True)
        os.replace(partial, final)

    def write_once(self, path: Path, table: pa.Table, what: str) -> None:
        """Write a table that every shard writer produces identically; refuse a different one.
        A file an older grokviz wrote (without columns added since) is kept when its columns agree."""
        if path.exists():
            existing = read_parquet(path)
            added = [c for c in table.column_names if c not in existing.column_names]
            if not existing.equals(table.drop_columns(added)):
                raise StoreError(f"{path}: {what} differs from what this run already stored")
            return
        atomic_write_table(path, table)

    def models_dir(self, run: str) -> Path:
        """STORE/models/RUN: what `grokviz demo` keeps beside the run (checkpoints, samples, demo.json)."""
        return self.root / "models" / check_run_name(run)

    def demo_config(self, run: str) -> dict[str, Any] | None:
        """The DemoConfig dict `grokviz demo` wrote to models/RUN/demo.json (None: not a demo run)."""
        path = self.models_dir(run) / "demo.json"
        return read_json(path) if path.is_file() else None

    def remove_run(self, run: str) -> None:
        """Delete a run entirely (explicit user action only)."""
        shutil.rmtree(self.run_dir(run), ignore_errors=True)


def check_same_model(stored: dict[str, Any], new: dict[str, Any], run: str) -> None:
    """Checkpoints of one run must share family, layers, experts and vocabulary."""
    for key in ("model_type", "n_layers", "n_experts", "vocab_size"):
        if stored.get(key) != new.get(key):
            raise StoreError(f"run {run!r}: checkpoint has {key}={new.get(key)!r} but the run "
                             f"has {key}={stored.get(key)!r}; use a new run name")
