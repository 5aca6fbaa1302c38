"""Query the store: an in-memory DuckDB with one view per export table, over complete files.

Opening a `Tables` lists the files that are complete at that moment (a snapshot; refresh by
opening a new one) and registers them as views, so any number of readers run beside a writer
without locks. The views are the export contract in `names.EXPORT_COLUMNS`. All SQL with
values is parameterised; file lists go through DuckDB's Python API, never into SQL text.
A truncated or corrupt file is never used silently: opening the views, or reading it, raises
a `StoreError` naming it.
Also: fast NumPy readers of one checkpoint's files for the analysis (decoded by `shards`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from grokviz import names
from grokviz.errors import InputError, StoreError
from grokviz.inputs.checkpoints import Checkpoint
from grokviz.store import analyses, appended, schemas, shards
from grokviz.store.layout import Store, read_parquet, unreadable
from grokviz.store.schemas import (
    CHECKPOINT_SCHEMA,
    CONTAMINATION_SCHEMA,
    ITEMS_SCHEMA,
    SAMPLES_SCHEMA,
    TASK_ACCURACY_SCHEMA,
)

VIEW_SQL = {
    "losses": """SELECT r.run, r.step, r.sample_id, s."group", s.split, r.loss, r.n_tokens
                 FROM sample_rows r JOIN samples_all s USING (run, sample_id)""",
    "routing": shards.ROUTING_SQL,
    "samples": """SELECT run, sample_id, "group", split, n_tokens, text FROM samples_all""",
}
ORDER_BY = {
    "losses": "run, step, sample_id", "routing": "run, step, sample_id, layer, expert",
    "token_routes": "run, step, sample_id, pos, layer, rank", "checkpoints": "run, step",
    "samples": "run, sample_id",
    "accuracy": "run, step, split, \"group\", item_id",
    "pathways": "run, step, sample_id", "group_metrics": "run, metric, \"group\", step",
    "memorization": "run, sample_id", "generalization": "run, item_id",
    "pairs": "run, domain, train_group", "correlations": "run, domain, metric",
    "saturation": "run, reference, top_k, layer, step",
    "accuracy_series": "run, split, \"group\", step", "cross_correlations": "run, metric, metric_group, accuracy_group",
    "projection": "run, step, sample_id", "health": "run, metric, layer, step",
    "coactivation": "run, step, layer, expert_a, expert_b", "load": "run, step, layer, expert",
    "flows": "run, step, \"group\", flow, layer, source, target",
    "items": "run, item_id", "task_accuracy": "run, split, \"group\", step",
    "contamination": "run, item_id",
    "validity": "run, \"group\", metric, \"check\"", "onsets": "run, \"group\", metric",
    "null_metrics": "run, \"group\", baseline, draw, metric, step", "monitor": "run, step, \"group\", metric",
}
EVALUATION_SCHEMAS = {"items": ITEMS_SCHEMA, "task_accuracy": TASK_ACCURACY_SCHEMA,
                      "contamination": CONTAMINATION_SCHEMA}


def complete_files(store: Store, run: str | None, kind: str) -> list[str]:
    """Part files of a kind ('samples' or 'tokens') in complete shards, sorted."""
    runs = [run] if run else store.runs()
    files = []
    for name in runs:
        for step, shard in store.complete_shards(name):
            folder = store.shard_dir(name, step, shard, partial=False)
            files.extend(str(p) for p in folder.glob(f"part-*.{kind}.parquet"))
    return sorted(files)


class Tables:
    """A read-only snapshot of a store (or one run of it) as DuckDB views."""

    def __init__(self, store: Store, run: str | None = None) -> None:
        self.store, self.run = store, run
        self.con = duckdb.connect()
        runs = [run] if run else store.runs()
        self._view("sample_rows", complete_files(store, run, "samples"), schemas.PART_SAMPLES_SCHEMA)
        self._view("token_routes", complete_files(store, run, "tokens"), schemas.PART_TOKENS_SCHEMA)
        self._view("samples_all", _existing(store.run_dir(r) / "samples.parquet" for r in runs),
                   SAMPLES_SCHEMA)
        steps = [store.step_dir(r, s) / "checkpoint.parquet" for r in runs
                 for s, _ in store.complete_shards(r)]
        self._view("checkpoints", sorted(set(_existing(steps))), CHECKPOINT_SCHEMA)
        self.con.from_arrow(moe_layers(store, runs)).create_view("moe_layers")
        for view, sql in VIEW_SQL.items():
            self.con.execute(f"CREATE VIEW {view} AS {sql}")
        self._view("accuracy", [f for r in runs for f in appended.table_files(store, r, "accuracy")],
                   schemas.ACCURACY_SCHEMA)
        self._view("monitor", [f for r in runs for f in appended.table_files(store, r, "monitor")],
                   pa.schema([("run", pa.string()), ("step", pa.int64()), ("group", pa.string()),
                              ("metric", pa.string()), ("value", pa.float64())]))
        for name, schema in EVALUATION_SCHEMAS.items():  # items, task_accuracy, contamination
            self._view(name, [f for r in runs for f in appended.table_files(store, r, name)], schema)
        for name in names.ANALYSIS_TABLES:
            files = [str(analyses.analysis_file(store, r, name)) for r in runs
                     if analyses.analysis_file(store, r, name) is not None]
            empty = pa.schema([(column, pa.string()) for column in names.EXPORT_COLUMNS[name]])
            self._view(name, files, empty)

    def _view(self, name: str, files: list[str], schema: pa.Schema) -> None:
        if files:
            try:  # union_by_name reads every file's footer now, so a truncated file fails here
                relation = self.con.read_parquet(files, union_by_name=True)
            except duckdb.Error as err:
                raise _first_unreadable(files, err) from None
        else:
            relation = self.con.from_arrow(schema.empty_table())
        relation.create_view(name, replace=True)

    def columns(self, name: str) -> list[str]:
        """The columns of one view (older stores may lack columns added since)."""
        views = {row[0] for row in self.con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        if name not in views:
            raise InputError(f"no view {name!r}; views: {sorted(views)}", field="table")
        return [row[0] for row in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def query(self, sql: str, params: list | tuple | None = None) -> pd.DataFrame:
        """Run a parameterised query and return a DataFrame."""
        return self.con.execute(sql, params or []).df()

    def table(self, name: str) -> pd.DataFrame:
        """One export table in contract column order, sorted."""
        if name not in ORDER_BY:
            raise InputError(f"unknown table {name!r}; choose one of {sorted(ORDER_BY)}",
                             field="table")
        columns = ", ".join(f'"{c}"' for c in names.EXPORT_COLUMNS[name])
        if name in names.ANALYSIS_TABLES:  # contract columns first, then documented extras
            columns = "*"
        return self.query(f"SELECT {columns} FROM {name} ORDER BY {ORDER_BY[name]}")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Tables:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def moe_layers(store: Store, runs: list[str]) -> pa.Table:
    """(run, ordinal, layer): the decoder-layer index of each MoE layer of each run, in depth order."""
    rows = []
    for run in runs:
        model = store.run_info(run).get("model", {})
        layers = model.get("decoder_layers") or range(int(model.get("n_layers", 0)))
        rows += [{"run": run, "ordinal": i, "layer": int(layer)} for i, layer in enumerate(layers)]
    return pa.Table.from_pylist(rows, schema=pa.schema([("run", pa.string()), ("ordinal", pa.int16()),
                                                        ("layer", pa.int16())]))


def _existing(paths) -> list[str]:
    return [str(p) for p in paths if Path(p).exists()]


def _first_unreadable(files: list[str], err: Exception) -> StoreError:
    """The error naming the first of `files` whose Parquet footer cannot be read."""
    for file in files:
        try:
            pq.read_metadata(file)
        except (pa.ArrowException, OSError) as bad:
            return unreadable(file, bad)
    return StoreError(f"cannot open the store's files ({str(err).splitlines()[0]})")


def read_samples_table(store: Store, run: str) -> pd.DataFrame:
    """The run's samples in file order (sample_id, group, split, prompt, n_tokens, text...)."""
    path = store.run_dir(run) / "samples.parquet"
    if not path.exists():
        raise StoreError(f"run {run!r} has no samples yet")
    return read_parquet(path).to_pandas().sort_values("order").reset_index(drop=True)


def read_step(store: Store, run: str, step: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One checkpoint's per-sample results: a frame (sample_id, loss, n_tokens) and the
    distributions as float32, shape (n_samples, n_layers, n_experts), rows aligned."""
    return shards.decode_samples_parts([read_parquet(f) for f in _step_parts(store, run, step)])


def read_step_rows(store: Store, run: str, step: int, ids: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """`read_step` of only the samples `ids` (those the checkpoint has, in file order): DuckDB
    decodes a row's distributions only where its id matches, so one sample of 40,000 x 16 x 64
    takes 0.1 s instead of the whole checkpoint's 1.2 s."""
    files = _step_parts(store, run, step)
    try:
        with duckdb.connect() as con:
            table = con.sql("SELECT sample_id, loss, n_tokens, n_experts, dist FROM read_parquet(?) "
                            "WHERE sample_id IN (SELECT unnest(?::VARCHAR[]))", params=[files, list(ids)]).to_arrow_table()
    except duckdb.Error as err:
        raise unreadable(files[0] if len(files) == 1 else store.step_dir(run, step), err) from None
    if not table.num_rows:
        model = store.run_info(run)["model"]
        return (pd.DataFrame({names.SAMPLE_ID: pd.Series(dtype=object), names.LOSS: pd.Series(dtype="float32"),
                              "n_tokens": pd.Series(dtype="int32")}),
                np.zeros((0, int(model["n_layers"]), int(model["n_experts"])), dtype=np.float32))
    return shards.decode_samples_parts([table])


def _step_parts(store: Store, run: str, step: int) -> list[str]:
    """The per-sample part files of one checkpoint's complete shards, sorted."""
    files = [str(p) for s, shard in store.complete_shards(run) if s == step
             for p in store.shard_dir(run, s, shard, partial=False).glob("part-*.samples.parquet")]
    if not files:
        raise StoreError(f"run {run!r} has no complete data at step {step}")
    return sorted(files)


def read_checkpoints(store: Store, run: str) -> list[Checkpoint]:
    """The run's checkpoints (step, tokens, revision, path) that have a complete shard, by step."""
    steps = sorted({step for step, _ in store.complete_shards(run)})
    paths = [store.step_dir(run, step) / "checkpoint.parquet" for step in steps]
    return shards.decode_checkpoints([read_parquet(path) for path in paths if path.exists()])


def read_token_means(store: Store, run: str, step: int, n_layers: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each token id's mean router distribution at a checkpoint, merged over its shards: ids
    (ascending) and means (n_ids, n_layers, n_experts); None when the run stored none."""
    files = [store.shard_dir(run, s, shard, partial=False) / "token_means.parquet"
             for s, shard in store.complete_shards(run) if s == step]
    files = [f for f in files if f.exists()]
    return shards.decode_token_means([read_parquet(f) for f in files], n_layers) if files else None


def read_route_ids(store: Store, run: str) -> pd.Series | None:
    """sample_id -> the token ids at its route-span positions (None when the run stored none)."""
    path = store.run_dir(run) / "route_ids.parquet"
    if not path.exists():
        return None
    table = read_parquet(path)
    ids = table.column("route_ids").to_pylist()
    return pd.Series([np.asarray(i, dtype=np.int64) for i in ids], index=table.column("sample_id").to_pylist())


def read_router_weights(store: Store, run: str, step: int) -> list[np.ndarray]:
    """Each MoE layer's router weight matrix at a checkpoint, (E, d) float32."""
    path = store.step_dir(run, step) / "router.parquet"
    if not path.exists():
        raise StoreError(f"run {run!r}: no router weights at step {step}")
    return shards.decode_router(read_parquet(path))


def export_table(tables: Tables, name: str, out: str | Path) -> int:
    """Write one export table to .parquet or .csv; returns the row count."""
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError("output must end in .parquet or .csv", file=str(out))
    frame = tables.table(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    return len(frame)
