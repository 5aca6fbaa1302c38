"""The per-checkpoint cache of the analysis: what one checkpoint computes, kept for the next call.

    runs/RUN/analysis/steps/KIND-step=N-KEY.parquet

`analyze` keys each entry by a hash of the settings it depends on and of that checkpoint's own
files (which shards exist), so a new checkpoint, a changed setting or a re-extracted checkpoint
never reuses a stale entry, and adding a checkpoint to a run computes only that checkpoint's part
(`grokviz.analysis.run`). Entries are written atomically; an unreadable one is recomputed, never
trusted. `prune` removes entries no current key names.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from grokviz.errors import StoreError
from grokviz.store.analyses import KEY
from grokviz.store.layout import Store, atomic_write_table, read_parquet


def _path(store: Store, run: str, kind: str, step: int, key: str) -> Path:
    if not KEY.fullmatch(key) or not kind.isidentifier():
        raise StoreError(f"run {run!r}: {kind!r}/{key!r} is not a step-cache entry")
    return store.run_dir(run) / "analysis" / "steps" / f"{kind}-step={int(step):09d}-{key}.parquet"


def read_cached(store: Store, run: str, kind: str, step: int, key: str) -> pa.Table | None:
    """The cached table, or None when absent or unreadable (then it is simply computed again)."""
    path = _path(store, run, kind, step, key)
    if not path.exists():
        return None
    try:
        return read_parquet(path)
    except StoreError:
        return None


def write_cached(store: Store, run: str, kind: str, step: int, key: str, table: pa.Table) -> None:
    """Store one checkpoint's entry (atomic: readers see it whole or not at all)."""
    atomic_write_table(_path(store, run, kind, step, key), table)


def prune(store: Store, run: str, keep: set[Path]) -> int:
    """Remove the entries not in `keep` (old settings, old files); returns how many."""
    folder = store.run_dir(run) / "analysis" / "steps"
    removed = 0
    for path in folder.glob("*.parquet") if folder.exists() else []:
        if path not in keep:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def entry_path(store: Store, run: str, kind: str, step: int, key: str) -> Path:
    """Where an entry lives (for `prune`'s keep set)."""
    return _path(store, run, kind, step, key)
