"""The file formats of one run, in both directions: what extraction (and the synthetic runs)
write, and what the analysis and the DuckDB views read.

    samples.parquet                          the run's samples (`samples_file`)
    step=N/checkpoint.parquet                step, tokens, revision, path (`checkpoint_file`)
    step=N/router.parquet                    router weight matrices, float16 (`router_file`)
    step=N/shard-I-of-K/part-P.samples.parquet   per sample: loss and the token-averaged router
                                             distribution, quantised to uint16 (`samples_part`)
    step=N/shard-I-of-K/part-P.tokens.parquet    per (token, layer, rank): the model's own top-k

A router probability p is stored as round(p * QUANT) in uint16 (absolute error < 8e-6); the
same constant decodes it here and in the `routing` view (`ROUTING_SQL`). Arrays in, Arrow
tables out, and back; no paths and no writes (that is `grokviz.store.layout`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from grokviz.inputs.checkpoints import Checkpoint
from grokviz.store.schemas import (
    CHECKPOINT_SCHEMA,
    PART_SAMPLES_SCHEMA,
    PART_TOKENS_SCHEMA,
    ROUTER_SCHEMA,
    SAMPLES_SCHEMA,
)

QUANT = 65535  # router probabilities are stored as round(p * QUANT) in uint16
# The `routing` export view: one row per (sample, checkpoint, layer, expert), decoded with QUANT.
ROUTING_SQL = f"""SELECT run, step, sample_id, CAST((i - 1) // n_experts AS SMALLINT) AS layer,
                         CAST((i - 1) % n_experts AS SMALLINT) AS expert,
                         CAST(q AS FLOAT) / {QUANT} AS weight
                  FROM (SELECT run, step, sample_id, n_experts,
                               unnest(range(1, len(dist) + 1)) AS i, unnest(dist) AS q FROM sample_rows)"""


def quantise(dist: np.ndarray) -> np.ndarray:
    """Probabilities to uint16 codes (clipped to [0, 1], rounded half to even).

    >>> quantise(np.array([0.0, 0.5, 1.0, 1.2])).tolist()
    [0, 32768, 65535, 65535]
    """
    scaled = np.clip(np.asarray(dist, dtype=np.float32), 0, 1) * np.float32(QUANT)
    return np.round(scaled).astype(np.uint16)


def dequantise(codes: np.ndarray) -> np.ndarray:
    """uint16 codes back to float32 probabilities.

    >>> dequantise(np.array([0, 65535], dtype=np.uint16)).tolist()
    [0.0, 1.0]
    """
    return np.asarray(codes).astype(np.float32) / np.float32(QUANT)


def samples_part(run: str, step: int, sample_ids: Sequence[str], loss: np.ndarray, n_loss_tokens: np.ndarray,
                 dist: np.ndarray) -> pa.Table:
    """One part of a checkpoint's per-sample results; `dist` has shape (n, n_layers, n_experts)."""
    n, layers, experts = dist.shape
    codes = pa.FixedSizeListArray.from_arrays(pa.array(quantise(dist).reshape(-1)), layers * experts)
    return pa.Table.from_arrays([
        pa.array([run] * n), pa.array(np.full(n, step), pa.int64()), pa.array(list(sample_ids), pa.string()),
        pa.array(np.asarray(loss, dtype=np.float32)), pa.array(np.asarray(n_loss_tokens, dtype=np.int32)),
        pa.array(np.full(n, experts), pa.int16()), codes.cast(pa.list_(pa.uint16())),
    ], schema=PART_SAMPLES_SCHEMA)


def tokens_part(run: str, step: int, sample_id: str, token_ids: np.ndarray, tokens: Sequence[str],
                expert_ids: np.ndarray, weights: np.ndarray) -> pa.Table:
    """Per-token routes of one sample as (pos, layer, rank) rows; `expert_ids` and `weights`
    have shape (n_pos, n_layers, top_k), `token_ids` and `tokens` one entry per position."""
    pos, layer, rank = np.indices(expert_ids.shape).reshape(3, -1)
    rows = len(pos)
    texts = np.asarray(tokens, dtype=object)
    return pa.Table.from_arrays([
        pa.array([run] * rows), pa.array(np.full(rows, step), pa.int64()), pa.array([sample_id] * rows, pa.string()),
        pa.array(pos, pa.int32()), pa.array(np.asarray(token_ids)[pos], pa.int32()), pa.array(texts[pos], pa.string()),
        pa.array(layer, pa.int16()), pa.array(rank, pa.int16()),
        pa.array(np.asarray(expert_ids).reshape(-1), pa.int16()),
        pa.array(np.asarray(weights, dtype=np.float32).reshape(-1), pa.float32()),
    ], schema=PART_TOKENS_SCHEMA)


def router_file(weights: Sequence[np.ndarray]) -> pa.Table:
    """Router weight matrices, one row per MoE layer (in depth order), as float16 bytes."""
    return pa.Table.from_pylist([
        {"layer": i, "n_experts": w.shape[0], "d_model": w.shape[1],
         "weight": np.asarray(w, dtype=np.float16).tobytes()} for i, w in enumerate(weights)
    ], schema=ROUTER_SCHEMA)


def checkpoint_file(run: str, checkpoint: Checkpoint) -> pa.Table:
    """The one-row checkpoint record of a step folder."""
    return pa.Table.from_pylist([{"run": run, "step": checkpoint.step, "tokens": checkpoint.tokens,
                                  "revision": checkpoint.revision, "path": checkpoint.path}],
                                schema=CHECKPOINT_SCHEMA)


def samples_file(run: str, samples: pd.DataFrame, n_tokens: np.ndarray, truncated: np.ndarray) -> pa.Table:
    """The run's sample set: sample_id, group, split, prompt, text (a frame from
    `grokviz.inputs.samples`), with tokenised lengths and file order."""
    frame = pd.DataFrame({
        "run": run, "sample_id": samples["sample_id"], "group": samples["group"], "split": samples["split"],
        "prompt": samples["prompt"] if "prompt" in samples else None,
        "n_tokens": np.asarray(n_tokens, dtype=np.int32), "truncated": np.asarray(truncated, dtype=bool),
        "order": np.arange(len(samples), dtype=np.int32), "text": samples["text"],
    })
    return pa.Table.from_pandas(frame, schema=SAMPLES_SCHEMA, preserve_index=False)


# --- reading -----------------------------------------------------------------------------------
def decode_samples_parts(parts: Sequence[pa.Table]) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-sample parts of one checkpoint -> a frame (sample_id, loss, n_tokens) and the
    distributions as float32, shape (n_samples, n_layers, n_experts), rows aligned."""
    table = pa.concat_tables(parts)
    n_experts = int(table.column("n_experts")[0].as_py())
    codes = table.column("dist").combine_chunks().values.to_numpy(zero_copy_only=False)
    dist = dequantise(codes).reshape(table.num_rows, -1, n_experts)
    return table.select(["sample_id", "loss", "n_tokens"]).to_pandas(), dist


def decode_router(table: pa.Table) -> list[np.ndarray]:
    """Each MoE layer's router weight matrix, (n_experts, d_model) float32, in depth order."""
    rows = sorted(table.to_pylist(), key=lambda r: r["layer"])
    return [np.frombuffer(r["weight"], dtype=np.float16).reshape(r["n_experts"], r["d_model"]).astype(np.float32)
            for r in rows]


def decode_checkpoints(tables: Sequence[pa.Table]) -> list[Checkpoint]:
    """Checkpoint records -> sorted `Checkpoint`s."""
    rows = [row for table in tables for row in table.to_pylist()]
    return sorted(Checkpoint(step=int(r["step"]), tokens=r["tokens"], revision=r["revision"], path=r["path"] or "")
                  for r in rows)
