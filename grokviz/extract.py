"""Run a checkpoint series over the samples and write each checkpoint's shard to the store.

Stages per checkpoint: load (safetensors; `trust_remote_code` only when asked), check that it
matches the run (family, layers, experts, vocabulary), store the router weights once, then
for each part of this shard's samples that is not stored yet: batch by token budget, forward
with router hooks, reduce, write the part atomically; finally mark the shard complete. A killed
run resumes at the first missing part and ends with exactly the rows of an uninterrupted run.
This is the only module, with capture/adapters, that loads models.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from grokviz import checkpoints as ckpts
from grokviz import names
from grokviz.adapters import Adapter, adapter_for, router_weights
from grokviz.capture import BatchResult, RouterHooks, reduce_batch
from grokviz.config import Device, ExtractConfig, RouteSpan
from grokviz.encode import Encoded, encode_samples, pad_batch, token_batches
from grokviz.errors import ModelError
from grokviz.samples import read_samples
from grokviz.store import Store, atomic_write_table
from grokviz.schemas import (CHECKPOINT_SCHEMA, QUANT, RESULTS_SCHEMA, ROUTER_SCHEMA,
                            SAMPLES_SCHEMA, TOKENS_SCHEMA)


@dataclasses.dataclass
class ExtractReport:
    """What one `extract` call did."""

    checkpoints_done: list[int]
    checkpoints_skipped: list[int]
    n_samples: int
    n_truncated: int
    tokens: int = 0
    seconds: float = 0.0


def resolve_series(config: ExtractConfig) -> list[ckpts.Checkpoint]:
    """The checkpoints to extract: local folders, or hub revisions, filtered by `steps`."""
    if config.revisions:
        return ckpts.from_revisions(config.model, config.revisions)
    if Path(config.model).exists() or not ckpts.looks_like_hub_id(config.model):
        series = ckpts.discover_local(config.model)
    else:
        series = ckpts.list_hub_checkpoints(config.model)
    return ckpts.select_steps(series, config.steps) if config.steps else series


def pick_device(device: Device, dtype: str | None) -> tuple[torch.device, torch.dtype]:
    """CUDA (bf16) when asked or available under `auto`, else CPU (fp32)."""
    use_cuda = device == Device.CUDA or (device == Device.AUTO and torch.cuda.is_available())
    if device == Device.CUDA and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but no CUDA device is available")
    chosen = dtype or ("bfloat16" if use_cuda else "float32")
    return torch.device("cuda" if use_cuda else "cpu"), getattr(torch, chosen)


def load_model(checkpoint: ckpts.Checkpoint, device: torch.device, dtype: torch.dtype,
               trust_remote_code: bool = False) -> tuple[torch.nn.Module, Adapter]:
    """Load one checkpoint for inference; errors name the checkpoint and what is wrong."""
    from transformers import AutoConfig, AutoModelForCausalLM

    where = f"{checkpoint.path}" + (f"@{checkpoint.revision}" if checkpoint.revision else "")
    try:
        config = AutoConfig.from_pretrained(checkpoint.path, revision=checkpoint.revision,
                                            trust_remote_code=trust_remote_code)
    except Exception as err:
        hint = ("; it ships its own model code: pass --trust-remote-code only if you trust it"
                if "custom code" in str(err) and not trust_remote_code else "")
        raise ModelError(f"{where}: cannot read the model config ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}){hint}") from None
    adapter = adapter_for(config.model_type)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            checkpoint.path, revision=checkpoint.revision, dtype=dtype,
            trust_remote_code=trust_remote_code)
    except Exception as err:
        raise ModelError(f"{where}: cannot load the weights ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''})") from None
    return model.to(device).eval(), adapter


def model_info(model: torch.nn.Module, adapter: Adapter) -> dict:
    """The shape every checkpoint of a run must share."""
    routers = adapter.routers(model)
    config = model.config
    return {
        "model_type": config.model_type, "n_layers": len(routers),
        "n_experts": adapter.num_experts(config), "top_k": int(config.num_experts_per_tok),
        "vocab_size": int(config.vocab_size), "hidden_size": int(config.hidden_size),
        "decoder_layers": [index for index, _ in routers],
    }


def samples_table(run: str, samples: pd.DataFrame, encoded: Encoded) -> pa.Table:
    frame = pd.DataFrame({
        "run": run, "sample_id": samples[names.SAMPLE_ID], "group": samples[names.GROUP],
        "split": samples[names.SPLIT], "prompt": samples[names.PROMPT],
        "n_tokens": encoded.lengths.astype(np.int32), "truncated": encoded.truncated,
        "order": np.arange(len(samples), dtype=np.int32), "text": samples[names.TEXT],
    })
    return pa.Table.from_pandas(frame, schema=SAMPLES_SCHEMA, preserve_index=False)


def token_route_rows(samples: pd.DataFrame, limit: int | None) -> np.ndarray:
    """Boolean mask of samples whose per-token routes are kept: the first `limit` per group."""
    if limit is None:
        return np.ones(len(samples), dtype=bool)
    rank = samples.groupby(names.GROUP, sort=False).cumcount().to_numpy()
    return rank < limit


def shard_parts(n_samples: int, part_size: int, shard: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
    """(part number, sample indices) of shard i of n: the run's samples cut into parts of
    `part_size` in file order, every n-th part to this shard. Parts (and so batches and every
    number computed) are the same whatever the shard count.

    >>> [(p, idx.tolist()) for p, idx in shard_parts(5, 2, (1, 2))]
    [(1, [2, 3])]
    """
    index, count = shard
    starts = range(0, n_samples, part_size)
    return [(number, np.arange(start, min(start + part_size, n_samples)))
            for number, start in enumerate(starts) if number % count == index]


@torch.inference_mode()
def run_batch(model: torch.nn.Module, hooks: RouterHooks, encoded: Encoded, batch: Sequence[int],
              pad_id: int, span: RouteSpan, device: torch.device, keep_tokens: np.ndarray) -> BatchResult:
    """One padded forward pass with hooks; returns the reduced per-sample results (per-token
    routes only for the samples `keep_tokens` marks)."""
    ids, attention, loss_mask, route_mask = pad_batch(encoded, batch, pad_id,
                                                      span == RouteSpan.COMPLETION)
    as_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    output = model(input_ids=as_tensor(ids), attention_mask=as_tensor(attention).long())
    token_rows = [row for row, index in enumerate(batch) if keep_tokens[index]]
    return reduce_batch(output.logits, hooks, as_tensor(ids), as_tensor(route_mask),
                        as_tensor(loss_mask), token_rows)


def part_tables(run: str, step: int, samples: pd.DataFrame, encoded: Encoded, tokenizer,
                batch: Sequence[int], result: BatchResult) -> tuple[pa.Table, pa.Table | None]:
    """Arrow tables of one batch: per-sample results, and per-token routes where kept."""
    n, layers, experts = result.dist.shape
    quantised = torch.round(result.dist.clamp(0, 1) * QUANT).to(torch.int32).numpy().astype(np.uint16)
    dist = pa.FixedSizeListArray.from_arrays(pa.array(quantised.reshape(-1)), layers * experts)
    sample_ids = samples[names.SAMPLE_ID].to_numpy()[list(batch)]
    results = pa.Table.from_arrays([
        pa.array([run] * n), pa.array([step] * n, pa.int64()), pa.array(sample_ids, pa.string()),
        pa.array(result.loss.numpy(), pa.float32()), pa.array(result.n_loss_tokens.numpy(), pa.int32()),
        pa.array([experts] * n, pa.int16()), dist.cast(pa.list_(pa.uint16())),
    ], schema=RESULTS_SCHEMA)
    token_frames = [token_frame(run, step, sample_ids[row], encoded.ids[batch[row]], tokenizer,
                                result.top_index[kept], result.top_weight[kept])
                    for kept, row in enumerate(result.token_rows)]
    tokens = pa.concat_tables(token_frames) if token_frames else None
    return results, tokens


def token_frame(run: str, step: int, sample_id: str, ids: np.ndarray, tokenizer,
                top_index: torch.Tensor, top_weight: torch.Tensor) -> pa.Table:
    """Long-form per-token routes of one sample: (pos, layer, rank) rows."""
    length = len(ids)
    index = top_index[:length].numpy()  # shape: (pos, layers, top_k)
    weight = top_weight[:length].float().numpy()
    pos, layer, rank = np.indices(index.shape).reshape(3, -1)
    texts = np.asarray(tokenizer.convert_ids_to_tokens(ids.tolist()), dtype=object)
    rows = len(pos)
    return pa.Table.from_arrays([
        pa.array([run] * rows), pa.array(np.full(rows, step), pa.int64()),
        pa.array([sample_id] * rows, pa.string()), pa.array(pos, pa.int32()),
        pa.array(ids[pos], pa.int32()), pa.array(texts[pos], pa.string()),
        pa.array(layer, pa.int16()), pa.array(rank, pa.int16()),
        pa.array(index.reshape(-1), pa.int16()), pa.array(weight.reshape(-1), pa.float32()),
    ], schema=TOKENS_SCHEMA)


def router_table(weights: list[torch.Tensor]) -> pa.Table:
    """Router weight matrices, one row per layer, float16 bytes."""
    return pa.Table.from_pylist([
        {"layer": i, "n_experts": w.shape[0], "d_model": w.shape[1],
         "weight": w.to(torch.float16).numpy().tobytes()} for i, w in enumerate(weights)
    ], schema=ROUTER_SCHEMA)


def checkpoint_table(run: str, checkpoint: ckpts.Checkpoint) -> pa.Table:
    return pa.Table.from_pylist([{"run": run, "step": checkpoint.step, "tokens": checkpoint.tokens,
                                  "revision": checkpoint.revision, "path": checkpoint.path}],
                                schema=CHECKPOINT_SCHEMA)


def load_tokenizer(source: str, revision: str | None, trust_remote_code: bool):
    """The checkpoint's tokenizer (or the one given with --tokenizer)."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, revision=revision,
                                             trust_remote_code=trust_remote_code)
    except Exception as err:
        raise ModelError(f"{source}: cannot load a tokenizer ({type(err).__name__})") from None


def extract(config: ExtractConfig, store: Store, *, progress: bool = True) -> ExtractReport:
    """Extract every checkpoint of the series for this shard of the samples (resumable)."""
    started = time.perf_counter()
    if not progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    samples = read_samples(config.samples)
    series = resolve_series(config)
    tokenizer = load_tokenizer(config.tokenizer or series[0].path,
                               None if config.tokenizer else series[0].revision,
                               config.trust_remote_code)
    encoded = encode_samples(samples, tokenizer, config.max_length)
    store.write_once(store.run_dir(config.run) / "samples.parquet",
                     samples_table(config.run, samples, encoded), "the sample set")
    report = ExtractReport([], [], len(samples), int(encoded.truncated.sum()))
    job = _Job(config, store, samples, encoded, tokenizer, token_route_rows(samples, config.token_routes))
    for checkpoint in tqdm(series, desc="checkpoints", unit="ckpt", disable=not progress):
        if store.is_complete(config.run, checkpoint.step, config.shard):
            report.checkpoints_skipped.append(checkpoint.step)
            continue
        report.tokens += job.run_checkpoint(checkpoint, progress)
        report.checkpoints_done.append(checkpoint.step)
    report.seconds = time.perf_counter() - started
    return report


@dataclasses.dataclass
class _Job:
    """The fixed inputs of one extraction call, shared by its checkpoints."""

    config: ExtractConfig
    store: Store
    samples: pd.DataFrame
    encoded: Encoded
    tokenizer: object
    keep_tokens: np.ndarray

    def run_checkpoint(self, checkpoint: ckpts.Checkpoint, progress: bool) -> int:
        """Extract one checkpoint's shard part by part; returns the tokens processed."""
        cfg, store = self.config, self.store
        device, dtype = pick_device(cfg.device, cfg.dtype)
        model, adapter = load_model(checkpoint, device, dtype, cfg.trust_remote_code)
        store.write_run_info(cfg.run, model_info(model, adapter), cfg.to_dict())
        self._check_vocab(model, checkpoint)
        routers = adapter.routers(model)
        store.write_once(store.step_dir(cfg.run, checkpoint.step) / "router.parquet",
                         router_table(router_weights(routers)), "router weights")
        pad_id = self.tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else (self.tokenizer.eos_token_id or 0)
        todo = [(number, part) for number, part in
                shard_parts(len(self.samples), cfg.part_size, cfg.shard)
                if not store.part_path(cfg.run, checkpoint.step, cfg.shard, number, "samples").exists()]
        lengths = self.encoded.lengths
        bar = tqdm(total=int(sum(lengths[p].sum() for _, p in todo)), unit="tok", unit_scale=True,
                   desc=f"step {checkpoint.step}", leave=False, disable=not progress)
        with RouterHooks([module for _, module in routers]) as hooks:
            for number, part in todo:
                self._run_part(model, hooks, checkpoint.step, number, part, pad_id, device, bar)
        bar.close()
        processed = int(sum(lengths[p].sum() for _, p in todo))
        store.write_once(store.step_dir(cfg.run, checkpoint.step) / "checkpoint.parquet",
                         checkpoint_table(cfg.run, checkpoint), "checkpoint metadata")
        store.finish_shard(cfg.run, checkpoint.step, cfg.shard)
        del model
        return processed

    def _check_vocab(self, model: torch.nn.Module, checkpoint: ckpts.Checkpoint) -> None:
        largest = max(int(ids.max(initial=0)) for ids in self.encoded.ids)
        if largest >= model.config.vocab_size:
            raise ModelError(f"{checkpoint.path}: tokenizer produces id {largest} but the model's "
                             f"vocabulary has {model.config.vocab_size} entries")

    def _run_part(self, model, hooks, step, number, part, pad_id, device, bar) -> None:
        cfg, store = self.config, self.store
        results, tokens = [], []
        for batch in token_batches(part, self.encoded.lengths, cfg.token_budget):
            reduced = run_batch(model, hooks, self.encoded, batch, pad_id, cfg.route_span, device,
                                self.keep_tokens)
            res, tok = part_tables(cfg.run, step, self.samples, self.encoded, self.tokenizer,
                                   batch, reduced)
            results.append(res)
            tokens += [tok] if tok is not None else []
            bar.update(int(self.encoded.lengths[batch].sum()))
        order = {sid: i for i, sid in enumerate(self.samples[names.SAMPLE_ID])}
        table = pa.concat_tables(results)
        table = table.take(np.argsort([order[s] for s in table.column("sample_id").to_pylist()]))
        if tokens:  # written before the samples file, which marks the part as done
            atomic_write_table(store.part_path(cfg.run, step, cfg.shard, number, "tokens"),
                               pa.concat_tables(tokens).sort_by([("sample_id", "ascending"),
                                                                 ("pos", "ascending")]))
        atomic_write_table(store.part_path(cfg.run, step, cfg.shard, number, "samples"), table)
