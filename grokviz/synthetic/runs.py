"""Synthetic runs of any size with OLMoE-like shape and a known grokking story, for scale tests.

Writes the same files an extraction writes (samples, per-checkpoint shards, router weights,
checkpoint metadata) plus held-out accuracy, without a model: NumPy and Arrow only. Structure:
each group has a prototype pathway per layer; every sample starts from its own random routing,
memorises (its loss settles) at a step drawn around its group's memorisation time, and after
that its routing drifts towards the group prototype, so pathway distance falls; the group's
held-out items are solved after a group-specific delay. `grokviz synthetic` is the CLI.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyarrow as pa

from grokviz import names
from grokviz.inputs.checkpoints import Checkpoint
from grokviz.store import shards
from grokviz.store.appended import append_table
from grokviz.store.layout import Store, atomic_write_table
from grokviz.store.schemas import ACCURACY_SCHEMA


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Size and shape of a synthetic run (defaults: OLMoE's 16 layers x 64 experts, top-8)."""

    run: str = "synthetic"
    checkpoints: int = 10
    groups: int = 4
    samples: int = 2500  # per group
    items: int = 200  # held-out items per group
    layers: int = 16
    experts: int = 64
    top_k: int = 8
    d_model: int = 256
    token_route_samples: int = 4  # per group
    tokens_per_sample: int = 32
    part_size: int = 2048
    seed: int = 0

    @property
    def steps(self) -> list[int]:
        return [5000 + i * 120_000 for i in range(self.checkpoints)]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _plan(spec: SyntheticSpec, rng: np.random.Generator) -> pd.DataFrame:
    """One row per sample: id, group, memorisation index (into steps), its own routing seed."""
    n_steps = spec.checkpoints
    rows = []
    for g in range(spec.groups):
        centre = 1 + g * max(1, (n_steps - 3) // max(1, spec.groups))
        t_index = np.clip(rng.normal(centre, 1.0, spec.samples).round(), 0, n_steps - 1).astype(int)
        rows.append(pd.DataFrame({names.SAMPLE_ID: [f"g{g}-{i:06d}" for i in range(spec.samples)],
                                  names.GROUP: f"domain{g}", "t_index": t_index, "g": g}))
    return pd.concat(rows, ignore_index=True)


def write_synthetic(store: Store, spec: SyntheticSpec) -> dict[str, int]:
    """Write the run; returns counts of what was written."""
    rng = np.random.default_rng(spec.seed)
    plan = _plan(spec, rng)
    n = len(plan)
    store.write_run_info(spec.run, {"model_type": "olmoe", "n_layers": spec.layers, "n_experts": spec.experts,
                                    "top_k": spec.top_k, "vocab_size": 50304, "hidden_size": spec.d_model,
                                    "decoder_layers": list(range(spec.layers))},
                         {"synthetic": dataclasses.asdict(spec)})
    samples = pd.DataFrame({names.SAMPLE_ID: plan[names.SAMPLE_ID], names.GROUP: plan[names.GROUP],
                            names.SPLIT: "train", names.PROMPT: "",
                            names.TEXT: [f"synthetic text {i} of {g}" for i, g in enumerate(plan[names.GROUP])]})
    store.write_once(store.run_dir(spec.run) / "samples.parquet",
                     shards.samples_file(spec.run, samples, np.full(n, spec.tokens_per_sample), np.zeros(n, bool)),
                     "the sample set")
    own = rng.normal(0, 1.5, (n, spec.layers, spec.experts)).astype(np.float32)  # per-sample logits
    proto = rng.normal(0, 2.5, (spec.groups, spec.layers, spec.experts)).astype(np.float32)
    for index, step in enumerate(spec.steps):
        _write_step(store, spec, plan, index, step, own, proto, rng)
    accuracy = _accuracy(spec, rng)
    append_table(store, spec.run, "accuracy", accuracy, schema=ACCURACY_SCHEMA, part="synthetic")
    return {"samples": n, "checkpoints": spec.checkpoints, "accuracy_rows": len(accuracy)}


def _write_step(store: Store, spec: SyntheticSpec, plan: pd.DataFrame, index: int, step: int,
                own: np.ndarray, proto: np.ndarray, rng: np.random.Generator) -> None:
    since = np.clip(index - plan["t_index"].to_numpy(), 0, None)[:, None, None]  # checkpoints since t*
    alpha = 1 - np.exp(-0.6 * since)  # drift towards the group prototype after memorisation
    logits = (1 - alpha) * own + alpha * proto[plan["g"].to_numpy()]  # (n, layers, E)
    dist = _softmax(logits + rng.normal(0, 0.05, logits.shape).astype(np.float32))
    loss = np.where(index >= plan["t_index"], 0.05, 3.0 * np.exp(-0.3 * index) + 0.5)
    loss = loss + rng.normal(0, 0.01, len(plan)).clip(-0.04, 0.04)
    shard = (0, 1)
    n_tokens = np.full(len(plan), spec.tokens_per_sample - 1, np.int32)
    for part, start in enumerate(range(0, len(plan), spec.part_size)):
        rows = slice(start, start + spec.part_size)
        table = shards.samples_part(spec.run, step, plan[names.SAMPLE_ID].iloc[rows].to_numpy(), loss[rows],
                                    n_tokens[rows], dist[rows])
        atomic_write_table(store.part_path(spec.run, step, shard, part, "samples"), table)
    _write_token_routes(store, spec, plan, step, dist, rng)
    weights = rng.normal(0, 1, (spec.layers, spec.experts, spec.d_model)).astype(np.float16)
    atomic_write_table(store.step_dir(spec.run, step) / "router.parquet", shards.router_file(list(weights)))
    atomic_write_table(store.step_dir(spec.run, step) / "checkpoint.parquet", shards.checkpoint_file(
        spec.run, Checkpoint(step=step, tokens=step * 4_194_304, revision=None, path="synthetic")))
    store.finish_shard(spec.run, step, shard)


def _write_token_routes(store, spec, plan, step, dist, rng) -> None:
    """Per-token top-k for the first samples of each group: the sample's routing plus noise."""
    chosen = plan.groupby(names.GROUP).head(spec.token_route_samples).index.to_numpy()
    t = spec.tokens_per_sample
    noisy = dist[chosen][:, None] * np.exp(rng.normal(0, 0.3, (len(chosen), t, spec.layers, spec.experts)))
    probs = noisy / noisy.sum(-1, keepdims=True)  # shape: (samples, pos, layers, E)
    top = np.argsort(-probs, axis=-1, kind="stable")[..., : spec.top_k]
    weight = np.take_along_axis(probs, top, -1)
    token_ids = rng.integers(0, 50304, (len(chosen), t))
    ids = plan[names.SAMPLE_ID].to_numpy()[chosen]
    parts = [shards.tokens_part(spec.run, step, ids[i], token_ids[i], [f"t{j}" for j in token_ids[i]],
                                top[i], weight[i]) for i in range(len(chosen))]
    atomic_write_table(store.part_path(spec.run, step, (0, 1), 0, "tokens"), pa.concat_tables(parts))


def _accuracy(spec: SyntheticSpec, rng: np.random.Generator) -> pd.DataFrame:
    """Held-out items solved from a step that follows each group's memorisation time."""
    frames = []
    steps = np.array(spec.steps)
    for g in range(spec.groups):
        centre = 1 + g * max(1, (spec.checkpoints - 3) // max(1, spec.groups)) + 2
        solved = np.clip(rng.normal(centre, 1.0, spec.items).round(), 1, spec.checkpoints).astype(int)
        correct = (np.arange(spec.checkpoints)[None, :] >= solved[:, None]).astype(np.int8)
        items = np.repeat([f"g{g}-item{i:05d}" for i in range(spec.items)], spec.checkpoints)
        frames.append(pd.DataFrame({"run": spec.run, names.STEP: np.tile(steps, spec.items),
                                    names.GROUP: f"domain{g}", names.SPLIT: "test", names.ITEM_ID: items,
                                    names.CORRECT: correct.reshape(-1)}))
    return pd.concat(frames, ignore_index=True)
