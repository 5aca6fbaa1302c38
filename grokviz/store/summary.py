"""What is in a store, in one dict: runs, model shapes, groups, checkpoints, completeness.

Used by `grokviz info` and the dashboard's overview; reads metadata and the DuckDB views only.
"""

from __future__ import annotations

from typing import Any

from grokviz.store import queries
from grokviz.store.layout import Store
from grokviz.store.tables import Tables


def run_summary(store: Store, run: str) -> dict[str, Any]:
    """One run: model shape, sample counts per group, steps and how many shards are complete."""
    info = store.run_info(run)
    tables = Tables(store, run)
    try:
        groups = queries.group_counts(tables)
        steps = queries.steps(tables)
    finally:
        tables.close()
    shards = store.complete_shards(run)
    expected = {count for _, (_, count) in shards} or {1}
    complete = sum(1 for step in {s for s, _ in shards}
                   if sum(1 for s, _ in shards if s == step) >= max(expected))
    return {
        "run": run, "model": info["model"], "n_samples": int(groups["n"].sum()),
        "groups": {f"{r.group}/{r.split}": int(r.n) for r in groups.itertuples()},
        "steps": [int(s) for s in steps], "complete": complete,
    }


def store_summary(store: Store) -> dict[str, Any]:
    """Every run of the store."""
    return {"schema_version": store.schema_version,
            "runs": [run_summary(store, run) for run in store.runs()]}
