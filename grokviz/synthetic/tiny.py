"""Tiny random MoE checkpoint series of every supported family, built from configs offline.

For tests, benchmarks and trying the workflow without downloads: `tiny_config(family)` gives
a small config of that family, `save_series` writes `stepN/` folders (model + word-level
tokenizer) whose weights drift between checkpoints like a training run's would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from grokviz.synthetic.wordlevel import build_tokenizer

WORDS = tuple(f"w{i}" for i in range(40)) + ("=", "+", "the", "cat", "sat")
COMMON = dict(vocab_size=len(WORDS) + 4, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              pad_token_id=0, bos_token_id=2, eos_token_id=3, tie_word_embeddings=False)
FAMILIES = {
    "olmoe": dict(num_experts=8, num_experts_per_tok=2, norm_topk_prob=False),
    "mixtral": dict(num_local_experts=8, num_experts_per_tok=2),
    "qwen2_moe": dict(num_experts=8, num_experts_per_tok=2, moe_intermediate_size=24,
                      shared_expert_intermediate_size=24, decoder_sparse_step=1),
    "qwen3_moe": dict(num_experts=8, num_experts_per_tok=2, moe_intermediate_size=24,
                      head_dim=8, decoder_sparse_step=1),
}


def tiny_config(family: str, **overrides):
    """A small random-init config of a supported family (3 layers, 8 experts, top-2)."""
    from transformers import AutoConfig

    return AutoConfig.for_model(family, **{**COMMON, **FAMILIES[family], **overrides})


def tiny_model(family: str, seed: int = 0, **overrides) -> torch.nn.Module:
    """A randomly initialised causal LM of the family, in eval mode."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(tiny_config(family, **overrides)).eval()


def save_series(root: str | Path, family: str, steps: Sequence[int] = (100, 200, 300),
                seed: int = 0, drift: float = 0.05, **overrides) -> list[Path]:
    """Save a checkpoint series `root/step{N}` whose weights drift by `drift` per checkpoint."""
    root = Path(root)
    model = tiny_model(family, seed, **overrides)
    tokenizer = build_tokenizer(WORDS)
    generator = torch.Generator().manual_seed(seed + 1)
    folders = []
    for step in steps:
        with torch.no_grad():
            for param in model.parameters():
                param.add_(drift * torch.randn(param.shape, generator=generator))
        folder = root / f"step{step}"
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders.append(folder)
    return folders
