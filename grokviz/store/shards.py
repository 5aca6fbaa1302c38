"""The file formats of one run, in both directions: what extraction (and the synthetic runs)
write, and what the analysis and the DuckDB views read.

    samples.parquet                          the run's samples (`samples_file`)
    step=N/checkpoint.parquet                step, tokens, revision, path, fingerprint (`checkpoint_file`)
    step=N/router.parquet                    router weight matrices, float16 (`router_file`)
    step=N/shard-I-of-K/part-P.samples.parquet   per sample: loss and the token-averaged router
                                             distribution, quantised to uint16 (`samples_part`)
    step=N/shard-I-of-K/part-P.tokens.parquet    per (token, layer, rank): the model's own top-k
    step=N/shard-I-of-K/token_means.parquet     per token id: its mean full router distribution over
                                             the shard's route-span positions (`token_means_file`)
    route_ids.parquet                        per sample: the token ids at its route-span positions

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
    ROUTE_IDS_SCHEMA,
    ROUTER_SCHEMA,
    SAMPLES_SCHEMA,
    TOKEN_MEANS_SCHEMA,
)

QUANT = 65535  # router probabilities are stored as round(p * QUANT) in uint16
# The `routing` export view: one row per (sample, checkpoint, layer, expert), decoded with QUANT;
# `layer` is the decoder-layer index of the MoE layer (view `moe_layers`: run, ordinal, layer).
ROUTING_SQL = f"""SELECT r.run, r.step, r.sample_id, m.layer,
                         CAST((r.i - 1) % r.n_experts AS SMALLINT) AS expert,
                         CAST(r.q AS FLOAT) / {QUANT} AS weight
                  FROM (SELECT run, step, sample_id, n_experts,
                               unnest(range(1, len(dist) + 1)) AS i, unnest(dist) AS q FROM sample_rows) r
                  JOIN moe_layers m ON m.run = r.run AND m.ordinal = (r.i - 1) // r.n_experts"""


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
    values = np.asarray(codes).astype(np.float32)
    return np.divide(values, np.float32(QUANT), out=values)  # in place: the same bits, one array fewer


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
                expert_ids: np.ndarray, weights: np.ndarray, routed: np.ndarray | None = None,
                layers: Sequence[int] | None = None) -> pa.Table:
    """Per-token routes of one sample as (pos, layer, rank) rows; `expert_ids` and `weights`
    have shape (n_pos, n_layers, top_k), `token_ids`, `tokens` and `routed` (the position is in the
    run's route span; default all) one entry per position; `layers` the decoder-layer index of
    each MoE layer (default 0..n_layers-1)."""
    pos, ordinal, rank = np.indices(expert_ids.shape).reshape(3, -1)
    layer = np.asarray(layers if layers is not None else range(expert_ids.shape[1]))[ordinal]
    routed = np.ones(expert_ids.shape[0], dtype=bool) if routed is None else np.asarray(routed, dtype=bool)
    rows = len(pos)
    texts = np.asarray(tokens, dtype=object)
    return pa.Table.from_arrays([
        pa.array([run] * rows), pa.array(np.full(rows, step), pa.int64()), pa.array([sample_id] * rows, pa.string()),
        pa.array(pos, pa.int32()), pa.array(np.asarray(token_ids)[pos], pa.int32()), pa.array(texts[pos], pa.string()),
        pa.array(layer, pa.int16()), pa.array(rank, pa.int16()),
        pa.array(np.asarray(expert_ids).reshape(-1), pa.int16()),
        pa.array(np.asarray(weights, dtype=np.float32).reshape(-1), pa.float32()), pa.array(routed[pos]),
    ], schema=PART_TOKENS_SCHEMA)


def router_file(weights: Sequence[np.ndarray], layers: Sequence[int] | None = None) -> pa.Table:
    """Router weight matrices, one row per MoE layer in depth order (`layer`: its decoder-layer
    index, default 0..L-1), as float16 bytes."""
    layers = list(layers) if layers is not None else list(range(len(weights)))
    return pa.Table.from_pylist([
        {"layer": layer, "n_experts": w.shape[0], "d_model": w.shape[1],
         "weight": np.asarray(w, dtype=np.float16).tobytes()} for layer, w in zip(layers, weights)
    ], schema=ROUTER_SCHEMA)


def checkpoint_file(run: str, checkpoint: Checkpoint, fingerprint: str | None = None) -> pa.Table:
    """The one-row checkpoint record of a step folder; `fingerprint` identifies the checkpoint's
    weights (`grokviz.store.integrity`; None where unknown, as in stores written before it)."""
    return pa.Table.from_pylist([{"run": run, "step": checkpoint.step, "tokens": checkpoint.tokens,
                                  "revision": checkpoint.revision, "path": checkpoint.path,
                                  "fingerprint": fingerprint}], schema=CHECKPOINT_SCHEMA)


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


def token_means_file(ids: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> pa.Table:
    """Each token id's mean distribution (sums / counts, shape (n_ids, layers, experts)), quantised."""
    means = sums / np.maximum(counts, 1)[:, None, None]
    width = means.shape[1] * means.shape[2]
    codes = pa.FixedSizeListArray.from_arrays(pa.array(quantise(means).reshape(-1)), width)
    return pa.Table.from_arrays([pa.array(np.asarray(ids, dtype=np.int32)), pa.array(np.asarray(counts, np.int64)),
                                 codes.cast(pa.list_(pa.uint16()))], schema=TOKEN_MEANS_SCHEMA)


def route_ids_file(sample_ids: Sequence[str], route_ids: Sequence[np.ndarray]) -> pa.Table:
    """The token ids at each sample's route-span positions (for the token-identity null)."""
    return pa.Table.from_arrays([pa.array(list(sample_ids), pa.string()),
                                 pa.array([np.asarray(r, dtype=np.int32) for r in route_ids],
                                          pa.list_(pa.int32()))], schema=ROUTE_IDS_SCHEMA)


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


def decode_token_means(tables: Sequence[pa.Table], n_layers: int) -> tuple[np.ndarray, np.ndarray]:
    """Token means of one checkpoint's shards, merged by count: ids (ascending) and their mean
    distributions, float32 (n_ids, n_layers, n_experts)."""
    table = pa.concat_tables(tables)
    ids = table.column("token_id").to_numpy()
    counts = table.column("count").to_numpy().astype(np.float64)
    means = dequantise(table.column("mean").combine_chunks().values.to_numpy(zero_copy_only=False))
    means = means.reshape(len(ids), n_layers, -1).astype(np.float64)
    unique, inverse = np.unique(ids, return_inverse=True)
    sums, totals = np.zeros((len(unique), *means.shape[1:])), np.zeros(len(unique))
    np.add.at(sums, inverse, means * counts[:, None, None])
    np.add.at(totals, inverse, counts)
    return unique, (sums / np.maximum(totals, 1)[:, None, None]).astype(np.float32)
