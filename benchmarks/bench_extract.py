"""Extraction cost: capture overhead against a plain forward pass, and store bytes per sample.

    python benchmarks/bench_extract.py [--layers 16 --experts 64 --top-k 8 --hidden 128]

1. Overhead: the same model and the same padded batches, run (a) as a plain forward pass and
   (b) through grokviz's extraction path (router hooks, per-sample loss, token-averaged full
   softmax, per-token top-k, Arrow tables). Interleaved repeats; reports the ratio b/a.
2. Bytes: sample-level results (loss + 16 x 64 distribution) written through the store's part
   writer for 2,000 samples at OLMoE shape; reports bytes per (sample, checkpoint).
On a GPU the same script reports tokens/s at full OLMoE-1B-7B shape with `--full --device cuda`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grokviz.extract.adapters import adapter_for
from grokviz.extract.capture import RouterHooks, reduce_batch
from grokviz.extract.encode import Encoded, pad_batch, token_batches
from grokviz.extract.run import part_tables
from grokviz.store.layout import atomic_write_table

FULL = dict(hidden_size=2048, intermediate_size=1024, num_hidden_layers=16, num_attention_heads=16,
            num_key_value_heads=16, num_experts=64, num_experts_per_tok=8, vocab_size=50304)


def build_model(args, device, dtype):
    from transformers import OlmoeConfig, OlmoeForCausalLM

    shape = FULL if args.full else dict(
        hidden_size=args.hidden, intermediate_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=4, num_key_value_heads=4, num_experts=args.experts,
        num_experts_per_tok=args.top_k, vocab_size=args.vocab)
    config = OlmoeConfig(**shape, norm_topk_prob=False, pad_token_id=0, max_position_embeddings=4096)
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build in the target dtype: no fp32 copy of 7B weights
    with torch.device(device):
        model = OlmoeForCausalLM(config).eval()
    torch.set_default_dtype(default)
    return model


class _Tok:  # token texts for the per-token table, as the real tokenizer would give
    def convert_ids_to_tokens(self, ids):
        return [f"t{i}" for i in ids]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--experts", type=int, default=64)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--min-length", type=int, default=None, help="default: length / 2")
    parser.add_argument("--budget", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="OLMoE-1B-7B shape (GPU)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = build_model(args, device, dtype)
    overhead(model, args, device)
    if not args.full:
        store_bytes(args)


def overhead(model, args, device) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    vocab = model.config.vocab_size
    lengths = rng.integers(args.min_length or args.length // 2, args.length + 1, size=args.samples)
    encoded = Encoded([rng.integers(1, vocab, size=n) for n in lengths], np.ones(args.samples, int),
                      np.zeros(args.samples, bool))
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(args.samples)]})
    batches = list(token_batches(range(args.samples), encoded.lengths, args.budget))
    padded = [pad_batch(encoded, b, 0, False) for b in batches]
    routers = [m for _, m in adapter_for("olmoe").routers(model)]
    keep = np.arange(args.samples) < 8
    as_t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731

    def plain():
        for ids, attention, _, _ in padded:
            model(input_ids=as_t(ids), attention_mask=as_t(attention).long())

    def captured():
        with RouterHooks(routers) as hooks:
            for batch, (ids, attention, loss, route) in zip(batches, padded):
                out = model(input_ids=as_t(ids), attention_mask=as_t(attention).long())
                rows = [r for r, i in enumerate(batch) if keep[i]]
                res = reduce_batch(out.logits, hooks, as_t(ids), as_t(route), as_t(loss), rows)
                part_tables("b", 0, samples, encoded, _Tok(), batch, res)

    times = {"plain": [], "captured": []}
    with torch.inference_mode():
        plain()  # warm-up
        for _ in range(args.repeats):
            for name, fn in (("plain", plain), ("captured", captured)):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                fn()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
    tokens = int(encoded.lengths.sum())
    best = {k: min(v) for k, v in times.items()}
    cfg = model.config
    print(f"model: {cfg.num_hidden_layers} layers x {cfg.num_experts} experts (top-{cfg.num_experts_per_tok}), "
          f"hidden {cfg.hidden_size}, device {device.type}, threads {torch.get_num_threads()}")
    print(f"{args.samples} samples, {tokens} tokens, {len(batches)} batches")
    for name, seconds in best.items():
        print(f"  {name:9s} best of {args.repeats}: {seconds:.3f} s  ({tokens / seconds:,.0f} tokens/s)")
    print(f"capture overhead ratio (captured / plain): {best['captured'] / best['plain']:.3f}")


def store_bytes(args, n: int = 2000) -> None:
    import pandas as pd
    import pyarrow as pa

    from grokviz.extract.capture import BatchResult

    rng = np.random.default_rng(1)
    dist = torch.from_numpy(rng.dirichlet(np.full(args.experts, 0.3), size=(n, args.layers)).astype(np.float32))
    result = BatchResult(loss=torch.rand(n), n_loss_tokens=torch.full((n,), 500), dist=dist,
                         token_rows=[], top_index=torch.zeros(0, 1, args.layers, args.top_k, dtype=torch.long),
                         top_weight=torch.zeros(0, 1, args.layers, args.top_k))
    samples = pd.DataFrame({"sample_id": [f"open-web-math-{i:07d}" for i in range(n)]})
    encoded = Encoded([np.ones(1, int)] * n, np.ones(n, int), np.zeros(n, bool))
    table, _ = part_tables("olmoe-math", 125000, samples, encoded, _Tok(), list(range(n)), result)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part.samples.parquet"
        atomic_write_table(path, table)
        size = os.path.getsize(path)
    raw = args.layers * args.experts * 2
    print(f"store: {n} samples x {args.layers} layers x {args.experts} experts -> {size / n:,.0f} bytes "
          f"per (sample, checkpoint) (raw uint16 distribution {raw} bytes; target <= 2,500)")
    assert isinstance(table, pa.Table)
    token_means_bytes(args, size / n)


def token_means_bytes(args, per_sample: float, n_ids: int = 4096) -> None:
    """What the token-identity null adds per checkpoint: one mean distribution per distinct token id."""
    from grokviz.store.shards import token_means_file

    rng = np.random.default_rng(2)
    sums = rng.dirichlet(np.full(args.experts, 0.3), size=(n_ids, args.layers)) * 50
    table = token_means_file(np.arange(n_ids), np.full(n_ids, 50), sums)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "token_means.parquet"
        atomic_write_table(path, table)
        per_id = os.path.getsize(path) / n_ids
    for vocab, samples in ((30_000, 10_000), (50_280, 40_000)):
        print(f"token means: {per_id:,.0f} bytes per token id; {vocab:,} distinct ids = {vocab * per_id / 2**20:,.1f} MiB "
              f"per checkpoint, {vocab * per_id / (samples * per_sample):.2f}x the routing table of {samples:,} samples")


if __name__ == "__main__":
    main()
