"""Run a checkpoint series over the samples and write each checkpoint's shard to the store.

Stages per checkpoint: load (safetensors; `trust_remote_code` only when asked), check that it
matches the run (family, layers, experts, vocabulary), take the shard's writer lock (see
`grokviz.store.locks`), store the router weights once, then for each part of this shard's
samples that is not stored yet: batch by token budget, forward with router hooks, reduce, write
the part atomically; finally record the checkpoint with its weights fingerprint
(`fingerprint.py`) and mark the shard complete. A killed
run resumes at the first missing part and ends with exactly the rows of an uninterrupted run.
This is the only module, with capture/adapters, that loads models.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from grokviz import names
from grokviz.config import ExtractConfig, RouteSpan
from grokviz.errors import ModelError
from grokviz.extract.adapters import router_weights
from grokviz.extract.capture import BatchResult, RouterHooks, TokenSums, reduce_batch
from grokviz.extract.encode import Encoded, encode_samples, pad_batch, route_positions, token_batches
from grokviz.extract.fingerprint import checkpoint_fingerprint
from grokviz.extract.loading import load_model, load_tokenizer, model_info, pick_device
from grokviz.inputs import checkpoints as ckpts
from grokviz.inputs.samples import read_samples
from grokviz.store import shards
from grokviz.store.integrity import router_fingerprint
from grokviz.store.layout import Store, atomic_write_table


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
              pad_id: int, span: RouteSpan, device: torch.device, keep_tokens: np.ndarray,
              token_sums: bool = False) -> BatchResult:
    """One padded forward pass with hooks; returns the reduced per-sample results (per-token
    routes only for the samples `keep_tokens` marks; per-token-id sums when asked)."""
    ids, attention, loss_mask, route_mask = pad_batch(encoded, batch, pad_id, span)
    as_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    output = model(input_ids=as_tensor(ids), attention_mask=as_tensor(attention).long())
    token_rows = [row for row, index in enumerate(batch) if keep_tokens[index]]
    return reduce_batch(output.logits, hooks, as_tensor(ids), as_tensor(route_mask),
                        as_tensor(loss_mask), token_rows, token_sums)


def part_tables(run: str, step: int, samples: pd.DataFrame, encoded: Encoded, tokenizer,
                batch: Sequence[int], result: BatchResult, span: RouteSpan = RouteSpan.AUTO,
                layers: Sequence[int] | None = None) -> tuple[pa.Table, pa.Table | None]:
    """Arrow tables of one batch: per-sample results, and per-token routes where kept (with the
    route-span positions marked and the decoder-layer index of each MoE layer)."""
    sample_ids = samples[names.SAMPLE_ID].to_numpy()[list(batch)]
    per_sample = shards.samples_part(run, step, sample_ids, result.loss.numpy(), result.n_loss_tokens.numpy(),
                                     result.dist.numpy())
    token_parts = []
    for kept, row in enumerate(result.token_rows):
        ids = encoded.ids[batch[row]]  # the sample's real tokens; the routes beyond them are padding
        token_parts.append(shards.tokens_part(
            run, step, sample_ids[row], ids, tokenizer.convert_ids_to_tokens(ids.tolist()),
            result.top_index[kept][: len(ids)].numpy(), result.top_weight[kept][: len(ids)].float().numpy(),
            routed=route_positions(encoded.targets[batch[row]], span,
                                   bool(encoded.prompted[batch[row]]) if encoded.prompted is not None else False),
            layers=layers))
    return per_sample, (pa.concat_tables(token_parts) if token_parts else None)


def extract(config: ExtractConfig, store: Store, *, progress: bool = True,
            on_checkpoint: Callable[[int, int], None] | None = None) -> ExtractReport:
    """Extract every checkpoint of the series for this shard of the samples (resumable);
    `on_checkpoint(done, total)` is called after each checkpoint (a progress display)."""
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
                     shards.samples_file(config.run, samples, encoded.lengths, encoded.truncated), "the sample set")
    if config.token_means:
        routed = [ids[route_positions(targets, config.route_span, bool(prompted))]
                  for ids, targets, prompted in zip(encoded.ids, encoded.targets, encoded.prompted)]
        store.write_once(store.run_dir(config.run) / "route_ids.parquet",
                         shards.route_ids_file(samples[names.SAMPLE_ID], routed), "the route-span token ids")
    report = ExtractReport([], [], len(samples), int(encoded.truncated.sum()))
    job = _Job(config, store, samples, encoded, tokenizer, token_route_rows(samples, config.token_routes))
    for done, checkpoint in enumerate(tqdm(series, desc="checkpoints", unit="ckpt", disable=not progress), start=1):
        if store.is_complete(config.run, checkpoint.step, config.shard):
            report.checkpoints_skipped.append(checkpoint.step)
        else:
            report.tokens += job.run_checkpoint(checkpoint, progress)
            report.checkpoints_done.append(checkpoint.step)
        if on_checkpoint is not None:
            on_checkpoint(done, len(series))
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
    layers: list[int] = dataclasses.field(default_factory=list)  # set per checkpoint: decoder-layer indices

    def run_checkpoint(self, checkpoint: ckpts.Checkpoint, progress: bool) -> int:
        """Extract one checkpoint's shard part by part; returns the tokens processed."""
        cfg, store = self.config, self.store
        device, dtype = pick_device(cfg.device, cfg.dtype)
        model, adapter = load_model(checkpoint, device, dtype, cfg.trust_remote_code)
        store.write_run_info(cfg.run, model_info(model, adapter), cfg.to_dict())
        self._check_vocab(model, checkpoint)
        routers = adapter.routers(model)
        self.layers = [index for index, _ in routers]  # decoder-layer index of each MoE layer
        router_table = shards.router_file([w.numpy() for w in router_weights(routers)], self.layers)
        fingerprint = checkpoint_fingerprint(checkpoint) or router_fingerprint(router_table)
        with store.shard_writer(cfg.run, checkpoint.step, cfg.shard):  # held until the shard is published
            store.write_once(store.step_dir(cfg.run, checkpoint.step) / "router.parquet", router_table,
                             "router weights")
            processed = self._write_parts(model, routers, checkpoint, device, progress)
            store.write_once(store.step_dir(cfg.run, checkpoint.step) / "checkpoint.parquet",
                             shards.checkpoint_file(cfg.run, checkpoint, fingerprint), "checkpoint metadata")
            store.finish_shard(cfg.run, checkpoint.step, cfg.shard)
        del model
        return processed

    def _write_parts(self, model, routers, checkpoint: ckpts.Checkpoint, device, progress: bool) -> int:
        """Every part of this shard not stored yet (and the shard's token means); the tokens processed."""
        cfg, store = self.config, self.store
        pad_id = self.tokenizer.pad_token_id
        pad_id = pad_id if pad_id is not None else (self.tokenizer.eos_token_id or 0)
        parts = shard_parts(len(self.samples), cfg.part_size, cfg.shard)
        todo = [(number, part) for number, part in parts
                if not store.part_path(cfg.run, checkpoint.step, cfg.shard, number, "samples").exists()]
        lengths = self.encoded.lengths
        bar = tqdm(total=int(sum(lengths[p].sum() for _, p in todo)), unit="tok", unit_scale=True,
                   desc=f"step {checkpoint.step}", leave=False, disable=not progress)
        sums: dict[int, TokenSums | None] = {}
        with RouterHooks([module for _, module in routers]) as hooks:
            for number, part in todo:
                sums[number] = self._run_part(model, hooks, checkpoint.step, number, part, pad_id, device, bar)
            if cfg.token_means:  # parts a killed run finished: their sums again (forward only, nothing written)
                for number, part in parts:
                    if number not in sums:
                        sums[number] = self._part_sums(model, hooks, part, pad_id, device)
        bar.close()
        if cfg.token_means:
            merged = TokenSums.merge([sums[number] for number, _ in parts])  # in part order: the same bits
            if merged is not None:
                atomic_write_table(store.shard_dir(cfg.run, checkpoint.step, cfg.shard, partial=True) /
                                   "token_means.parquet", shards.token_means_file(merged.ids, merged.counts, merged.sums))
        return int(sum(lengths[p].sum() for _, p in todo))

    def _check_vocab(self, model: torch.nn.Module, checkpoint: ckpts.Checkpoint) -> None:
        largest = max(int(ids.max(initial=0)) for ids in self.encoded.ids)
        if largest >= model.config.vocab_size:
            raise ModelError(f"{checkpoint.path}: tokenizer produces id {largest} but the model's "
                             f"vocabulary has {model.config.vocab_size} entries")

    def _part_sums(self, model, hooks, part, pad_id, device) -> TokenSums | None:
        """Per-token-id sums of one part, recomputed (its files were written by an earlier process)."""
        return TokenSums.merge([
            run_batch(model, hooks, self.encoded, batch, pad_id, self.config.route_span, device,
                      np.zeros(len(self.samples), dtype=bool), token_sums=True).token_sums
            for batch in token_batches(part, self.encoded.lengths, self.config.token_budget)])

    def _run_part(self, model, hooks, step, number, part, pad_id, device, bar) -> TokenSums | None:
        cfg, store = self.config, self.store
        results, tokens, sums = [], [], []
        for batch in token_batches(part, self.encoded.lengths, cfg.token_budget):
            reduced = run_batch(model, hooks, self.encoded, batch, pad_id, cfg.route_span, device,
                                self.keep_tokens, cfg.token_means)
            sums.append(reduced.token_sums)
            res, tok = part_tables(cfg.run, step, self.samples, self.encoded, self.tokenizer,
                                   batch, reduced, cfg.route_span, self.layers)
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
        return TokenSums.merge(sums)
