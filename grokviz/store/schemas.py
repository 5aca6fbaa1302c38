"""Arrow schemas of the files the store holds; the single definition writers and readers share.

No DuckDB, no torch: extraction (which may run on a machine without DuckDB) and the query
layer both import from here.
"""

from __future__ import annotations

import pyarrow as pa

SAMPLES_SCHEMA = pa.schema([
    ("run", pa.string()), ("sample_id", pa.string()), ("group", pa.string()),
    ("split", pa.string()), ("prompt", pa.string()), ("n_tokens", pa.int32()),
    ("truncated", pa.bool_()), ("order", pa.int32()), ("text", pa.string()),
])
PART_SAMPLES_SCHEMA = pa.schema([
    ("run", pa.string()), ("step", pa.int64()), ("sample_id", pa.string()),
    ("loss", pa.float32()), ("n_tokens", pa.int32()), ("n_experts", pa.int16()),
    ("dist", pa.list_(pa.uint16())),
])
PART_TOKENS_SCHEMA = pa.schema([
    ("run", pa.string()), ("step", pa.int64()), ("sample_id", pa.string()), ("pos", pa.int32()),
    ("token_id", pa.int32()), ("token", pa.string()), ("layer", pa.int16()), ("rank", pa.int16()),
    ("expert", pa.int16()), ("weight", pa.float32()), ("routed", pa.bool_()),
])
TOKEN_MEANS_SCHEMA = pa.schema([  # per checkpoint shard: each token id's mean router distribution
    ("token_id", pa.int32()), ("count", pa.int64()), ("mean", pa.list_(pa.uint16())),
])
ROUTE_IDS_SCHEMA = pa.schema([  # per run: the token ids at each sample's route-span positions
    ("sample_id", pa.string()), ("route_ids", pa.list_(pa.int32())),
])
CHECKPOINT_SCHEMA = pa.schema([  # fingerprint: of the checkpoint's weights (`integrity`); null before it existed
    ("run", pa.string()), ("step", pa.int64()), ("tokens", pa.int64()),
    ("revision", pa.string()), ("path", pa.string()), ("fingerprint", pa.string()),
])
ROUTER_SCHEMA = pa.schema([("layer", pa.int16()), ("n_experts", pa.int32()),
                           ("d_model", pa.int32()), ("weight", pa.binary())])

ACCURACY_SCHEMA = pa.schema([
    ("run", pa.string()), ("step", pa.int64()), ("group", pa.string()), ("split", pa.string()),
    ("item_id", pa.string()), ("correct", pa.int8()),
])

# Test items and their evaluation (testitems.py, evaluate.py, accuracy_import.py, contamination.py).
ITEMS_SCHEMA = pa.schema([
    ("run", pa.string()), ("item_id", pa.string()), ("group", pa.string()), ("kind", pa.string()),
    ("text", pa.string()),
])
ITEM_SCORES_SCHEMA = pa.schema([
    ("run", pa.string()), ("step", pa.int64()), ("item_id", pa.string()), ("group", pa.string()),
    ("kind", pa.string()), ("correct", pa.int8()), ("acc", pa.int8()), ("acc_norm", pa.int8()),
    ("acc_tokens", pa.int8()), ("prediction", pa.string()), ("detail", pa.string()),
])
TASK_ACCURACY_SCHEMA = pa.schema([
    ("run", pa.string()), ("step", pa.int64()), ("group", pa.string()), ("split", pa.string()),
    ("accuracy", pa.float64()), ("metric", pa.string()), ("task", pa.string()),
])
CONTAMINATION_SCHEMA = pa.schema([
    ("run", pa.string()), ("item_id", pa.string()), ("group", pa.string()), ("score", pa.float64()),
    ("dropped", pa.bool_()), ("step", pa.int64()), ("k", pa.float64()),
])
