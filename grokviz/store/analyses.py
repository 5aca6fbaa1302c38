"""The analysis cache: every table of one `analyze` call, keyed by its settings and inputs.

    runs/RUN/analysis/HASH/settings.json            the analysis settings and input fingerprint
    runs/RUN/analysis/HASH/NAME.parquet             one file per analysis table
    runs/RUN/analysis/latest.json                   which HASH the dashboard shows by default

An analysis is written into `HASH.partial-XXXX/` (holding its `.lock`, see `locks.py`) and
renamed when every table is there, so a killed `analyze` leaves nothing visible and a cached
result is never half-written (what it leaves is an orphan `grokviz doctor --fix` removes). The
key is a hash of the settings AND of the input fingerprint (which shards and accuracy parts
exist), so new checkpoints or changed settings never return stale results.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from grokviz import names
from grokviz.config import settings_hash
from grokviz.errors import StoreError
from grokviz.store import locks
from grokviz.store.appended import table_files
from grokviz.store.layout import Store, atomic_write_json, atomic_write_table, read_json, read_parquet, unreadable

KEY = re.compile(r"[0-9a-f]{16}")  # an analysis key (settings_hash): never a path


def input_fingerprint(store: Store, run: str) -> dict[str, Any]:
    """What an analysis read: complete shards and accuracy parts (by name and size), and the
    test items and contamination filter when the run has them (by content: the filter file
    is replaced in place). Keys are only added when present, so older keys stay valid."""
    fingerprint: dict[str, Any] = {
        "shards": sorted(f"{step}:{i}/{n}" for step, (i, n) in store.complete_shards(run)),
        "accuracy": [f"{Path(f).name}:{os.path.getsize(f)}" for f in table_files(store, run, "accuracy")],
    }
    for table in ("items", "contamination"):
        files = table_files(store, run, table)
        if files:
            fingerprint[table] = [f"{Path(f).name}:{hashlib.sha256(Path(f).read_bytes()).hexdigest()[:16]}"
                                  for f in files]
    return fingerprint


def analysis_key(settings: dict[str, Any], fingerprint: dict[str, Any]) -> str:
    return settings_hash({"settings": settings, "inputs": fingerprint})


def analysis_dir(store: Store, run: str, key: str) -> Path:
    if not KEY.fullmatch(str(key)):
        raise StoreError(f"run {run!r}: {key!r} is not an analysis key")
    return store.run_dir(run) / "analysis" / key


def has_analysis(store: Store, run: str, key: str) -> bool:
    return (analysis_dir(store, run, key) / "settings.json").exists()


def write_analysis(store: Store, run: str, key: str, settings: dict[str, Any],
                   fingerprint: dict[str, Any], tables: dict[str, pd.DataFrame]) -> Path:
    """Write every analysis table, then publish them together by renaming the folder."""
    final = analysis_dir(store, run, key)
    partial = final.with_name(f"{key}.partial-{uuid.uuid4().hex[:8]}")
    with locks.folder_lock(partial, f"analysis {key} of run {run!r}") as lock:  # live: doctor leaves it
        for name, frame in tables.items():
            if len(frame.columns) == 0:
                frame = pd.DataFrame(columns=list(names.EXPORT_COLUMNS[name]))
            contract = [c for c in names.EXPORT_COLUMNS.get(name, ()) if c in frame]
            missing = set(names.EXPORT_COLUMNS.get(name, ())) - set(frame.columns)
            if missing and len(frame):
                raise ValueError(f"analysis table {name!r} lacks contract columns {sorted(missing)}")
            ordered = frame[contract + [c for c in frame.columns if c not in contract]]
            atomic_write_table(partial / f"{name}.parquet",
                               pa.Table.from_pandas(ordered, preserve_index=False))
        atomic_write_json(partial / "settings.json", {"settings": settings, "inputs": fingerprint})
        lock.unlink()  # still held until the block ends; the published folder has no lock file
        if final.exists():  # an identical result raced us; keep the first
            shutil.rmtree(partial)
        else:
            os.replace(partial, final)
    write_latest(store, run, key)
    return final


def write_latest(store: Store, run: str, key: str) -> None:
    """Point the dashboard's default view at analysis `key`."""
    atomic_write_json(store.run_dir(run) / "analysis" / "latest.json", {"key": key})


def latest_key(store: Store, run: str) -> str | None:
    """The key of the analysis the dashboard shows by default, or None."""
    path = store.run_dir(run) / "analysis" / "latest.json"
    if not path.exists():
        return None
    key = read_json(path).get("key")
    return key if isinstance(key, str) and KEY.fullmatch(key) and has_analysis(store, run, key) else None


def latest_settings(store: Store, run: str) -> dict[str, Any] | None:
    """The settings of the analysis the dashboard shows by default (None when there is none)."""
    key = latest_key(store, run)
    return read_json(analysis_dir(store, run, key) / "settings.json")["settings"] if key else None


def analysis_file(store: Store, run: str, name: str, key: str | None = None) -> Path | None:
    """The Parquet file of one analysis table (latest analysis by default), or None."""
    key = key or latest_key(store, run)
    if key is None:
        return None
    path = analysis_dir(store, run, key) / f"{name}.parquet"
    return path if path.exists() else None


def read_analysis(store: Store, run: str, name: str, key: str | None = None, columns: list[str] | None = None,
                  where: tuple[str, object] | None = None) -> pd.DataFrame:
    """One analysis table as a frame (only `columns`; with `where` (column, value), only the rows
    holding that value, selected by DuckDB as it reads); an error says how to produce it when it is
    missing."""
    path = analysis_file(store, run, name, key)
    if path is None:
        raise StoreError(f"run {run!r} has no {name!r} table yet; run `grokviz analyze --run {run}`")
    if where is None:
        return read_parquet(path, columns).to_pandas()
    # DuckDB reads the other columns only where the row matches: one sample of 440,000 pathway rows
    # in 0.1 s, where Arrow's filter decodes every pathway first (1.6 s). Fixed statements only.
    column, value = where
    if column not in (names.SAMPLE_ID, names.STEP):
        raise ValueError(f"rows are selected by {names.SAMPLE_ID} or {names.STEP}, not {column!r}")
    try:
        with duckdb.connect() as con:
            if column == names.SAMPLE_ID:
                rows = con.execute("SELECT * FROM read_parquet(?) WHERE sample_id = ?", [str(path), value]).df()
            else:
                rows = con.execute("SELECT * FROM read_parquet(?) WHERE step = ?", [str(path), value]).df()
    except duckdb.Error as err:
        raise unreadable(path, err) from None
    return rows[columns] if columns else rows
