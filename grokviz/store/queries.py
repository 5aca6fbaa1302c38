"""Every query grokviz runs on a store, as plain functions: the dashboard, `info`, the report and
the analysis call these and never write SQL themselves.

Functions take a `Tables` snapshot (DuckDB views over the complete files of a run; see
`grokviz.store.tables`) or a `Store`, and return DataFrames or plain values. All SQL with values
is parameterised; sample-id lists travel as one array parameter, never as SQL text.
Testable without Streamlit: the dashboard's cache (`grokviz.dashboard.cache`) only wraps them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from grokviz import names
from grokviz.store.appended import read_appended
from grokviz.store.layout import Store
from grokviz.store.tables import Tables

CONTAMINATION = "contamination"
_IDS = " AND r.sample_id IN (SELECT unnest(?::VARCHAR[]))"  # r: token_routes


def _ids_clause(ids: Sequence[str] | None) -> tuple[str, list]:
    """An `AND sample_id IN (...)` filter for a list of ids, or nothing for None (all samples)."""
    return ("", []) if ids is None else (_IDS, [list(ids)])


# --- the run ---------------------------------------------------------------------------------
def checkpoint_rows(tables: Tables) -> pd.DataFrame:
    """step, tokens, revision of every checkpoint with a complete shard."""
    return tables.query("SELECT step, tokens, revision FROM checkpoints ORDER BY step")


def steps(tables: Tables) -> list[int]:
    """Checkpoint steps with per-sample results, ascending."""
    return [int(s) for s in tables.query("SELECT DISTINCT step FROM losses ORDER BY step")["step"]]


def group_counts(tables: Tables) -> pd.DataFrame:
    """group, split, n (samples)."""
    return tables.query('SELECT "group", split, count(*) AS n FROM samples GROUP BY ALL ORDER BY ALL')


def sample_index(tables: Tables) -> pd.DataFrame:
    """sample_id, group, split, n_tokens, has_tokens (per-token routing stored), sorted by id."""
    return tables.query("""SELECT s.sample_id, s."group", s.split, s.n_tokens,
                                  s.sample_id IN (SELECT DISTINCT sample_id FROM token_routes) AS has_tokens
                           FROM samples s ORDER BY s.sample_id""")


# --- losses and accuracy -----------------------------------------------------------------------
def losses(tables: Tables) -> pd.DataFrame:
    """step, sample_id, group, split, loss of every sample at every checkpoint."""
    return tables.query('SELECT step, sample_id, "group", split, loss FROM losses ORDER BY step, sample_id')


def accuracy_rows(tables: Tables) -> pd.DataFrame:
    """Every stored correctness row: run, step, group, split, item_id, correct."""
    return tables.query("SELECT * FROM accuracy")


def group_accuracy(tables: Tables, split: str = "test") -> pd.DataFrame:
    """step, group, accuracy (mean correctness) of one split."""
    return tables.query("""SELECT step, "group", avg(correct) AS accuracy FROM accuracy WHERE split = ?
                           GROUP BY ALL ORDER BY ALL""", [split])


def items_accuracy(tables: Tables, group: str, item_ids: Sequence[str]) -> pd.DataFrame:
    """step, accuracy of the given held-out items of one group."""
    return tables.query("""SELECT step, avg(correct) AS accuracy FROM accuracy WHERE split = 'test'
                           AND "group" = ? AND item_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1 ORDER BY 1""",
                        [group, [str(i) for i in item_ids]])


def monitor_rows(tables: Tables) -> pd.DataFrame:
    """step, group, metric, value of the live monitor (empty when training logged none)."""
    return tables.query('SELECT step, "group", metric, value FROM monitor ORDER BY step, "group", metric')


# --- routing ------------------------------------------------------------------------------------
def token_routes(tables: Tables) -> pd.DataFrame:
    """step, sample_id, pos, layer, rank, expert, weight, routed of every stored per-token route
    (`routed`: the position is in the run's route span; true everywhere in stores that predate it)."""
    if "routed" in tables.columns("token_routes"):
        return tables.query("""SELECT step, sample_id, pos, layer, rank, expert, weight, coalesce(routed, true) AS routed
                               FROM token_routes""")
    return tables.query("SELECT step, sample_id, pos, layer, rank, expert, weight, true AS routed FROM token_routes")


def token_links(tables: Tables, step: int, ids: Sequence[str] | None, all_ranks: bool,
                layers: tuple[int, int]) -> pd.DataFrame:
    """layer, source, target, value: per-token flows from each MoE layer to the next (top-1, or all
    top-k weighted by their renormalised weights), aggregated in DuckDB. `layers` and the `layer`
    column are MoE-layer ordinals (0 = the first MoE layer), as the Sankey draws them."""
    clause, extra = _ids_clause(ids)
    return tables.query(f"""
        WITH t AS (SELECT r.sample_id, r.pos, m.ordinal AS layer, r.expert,
                          r.weight / sum(r.weight) OVER (PARTITION BY r.sample_id, r.pos, r.layer) AS w
                   FROM token_routes r JOIN moe_layers m ON m.run = r.run AND m.layer = r.layer
                   WHERE r.step = ? AND m.ordinal BETWEEN ? AND ? AND (? OR r.rank = 0){clause})
        SELECT CAST(a.layer AS BIGINT) AS layer, CAST(a.expert AS BIGINT) AS source,
               CAST(b.expert AS BIGINT) AS target, sum(a.w * b.w) AS value
        FROM t a JOIN t b ON a.sample_id = b.sample_id AND a.pos = b.pos AND b.layer = a.layer + 1
        GROUP BY ALL ORDER BY ALL""", [step, layers[0], layers[1], all_ranks, *extra])


# --- one sample -----------------------------------------------------------------------------------
def search_samples(tables: Tables, text: str, limit: int = 200) -> pd.DataFrame:
    """sample_id, group, text of samples whose id or text contains `text` (case-insensitive)."""
    return tables.query("""SELECT sample_id, "group", text FROM samples
                           WHERE contains(lower(sample_id), lower(?)) OR contains(lower(text), lower(?))
                           ORDER BY sample_id LIMIT ?""", [text, text, limit])


def sample_record(tables: Tables, sample_id: str) -> dict:
    """The sample's row of `samples` as a dict (empty when unknown)."""
    rows = tables.query("SELECT * FROM samples WHERE sample_id = ?", [sample_id])
    return rows.iloc[0].to_dict() if len(rows) else {}


def sample_tokens(tables: Tables, sample_id: str, step: int) -> pd.DataFrame:
    """pos, token, layer, expert, weight: the top-1 expert of every stored token and layer."""
    return tables.query("""SELECT pos, token, layer, expert, weight FROM token_routes
                           WHERE sample_id = ? AND step = ? AND rank = 0 ORDER BY pos, layer""", [sample_id, step])


def sample_routing(tables: Tables, sample_id: str, step: int | None = None) -> pd.DataFrame:
    """step, layer, expert, weight: the sample's token-averaged router distribution at one
    checkpoint, or at every checkpoint when `step` is None."""
    if step is None:
        return tables.query("SELECT step, layer, expert, weight FROM routing WHERE sample_id = ? ORDER BY ALL",
                            [sample_id])
    return tables.query("""SELECT step, layer, expert, weight FROM routing WHERE sample_id = ? AND step = ?
                           ORDER BY layer, expert""", [sample_id, step])


def sample_losses(tables: Tables, sample_id: str) -> pd.DataFrame:
    """step, loss of one sample."""
    return tables.query("SELECT step, loss FROM losses WHERE sample_id = ? ORDER BY step", [sample_id])


# --- filters ------------------------------------------------------------------------------------
def read_contamination(store: Store, run: str) -> pd.DataFrame:
    """The run's contamination table (empty frame when no filter was computed)."""
    return read_appended(store, run, CONTAMINATION)


def dropped_items(store: Store, run: str) -> set[str]:
    """Item ids the run's contamination filter drops (empty when there is no filter)."""
    frame = read_contamination(store, run)
    return set() if frame.empty else set(frame.loc[frame["dropped"], names.ITEM_ID].astype(str))
