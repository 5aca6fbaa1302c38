"""Appendable tables of a run: immutable part files added one at a time.

    runs/RUN/tables/NAME/PART.parquet

Accuracy (demo, `evaluate`, `import-accuracy`), evaluated items, per-task accuracy, the
contamination filter and the live monitor's rows each live in their own folder of parts. A part
is written atomically, so a reader sees it whole or not at all; nothing is ever rewritten in
place. Start at `append_table` and `read_appended`.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa

from grokviz.store.layout import Store, atomic_write_table, read_parquet


def append_table(store: Store, run: str, table: str, frame: pd.DataFrame,
                 schema: pa.Schema | None = None, part: str | None = None) -> Path:
    """Add one immutable part file to a run's appendable table (accuracy, monitor, ...)."""
    folder = store.table_dir(run, table)
    name = part or uuid.uuid4().hex
    path = folder / f"{name}.parquet"
    arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    atomic_write_table(path, arrow)
    return path


def table_files(store: Store, run: str, table: str) -> list[str]:
    """The complete part files of an appendable table."""
    folder = store.table_dir(run, table)
    return sorted(str(p) for p in folder.glob("*.parquet")) if folder.exists() else []


def read_appended(store: Store, run: str, table: str) -> pd.DataFrame:
    """All parts of an appendable table as one frame (empty frame when there are none)."""
    files = table_files(store, run, table)
    if not files:
        return pd.DataFrame()
    return pa.concat_tables(read_parquet(f) for f in files).to_pandas()
