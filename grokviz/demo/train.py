"""Training the demo's tiny OLMoE-architecture model on all tasks at once, with checkpoints.

This module owns the demo's run settings (`DemoConfig`, also the run's provenance record), the
model it builds (transformers `OlmoeConfig` + `OlmoeForCausalLM`, `norm_topk_prob=False`,
default `grouped_mm` experts, sdpa attention, `pad_token_id` = the tokenizer's `<pad>` = 0),
the checkpoint schedule, the training loop (full-batch AdamW, loss on the answer token only,
optional gradient clipping, Grokfast-EMA filter and router load-balancing loss) and per-equation
correctness at a checkpoint.
The defaults and why they were chosen: EXPERIMENTS.md beside this file. It must not write files, extract routing or
analyse anything: the caller's `on_checkpoint(step, model)` saves what it wants.
Start at `DemoConfig` and `train`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from grokviz.demo.tasks import (
    DEFAULT_TASKS,
    EncodedEquations,
    TaskSpec,
    build_demo_tokenizer,
    encode_equations,
    generate_equations,
    validate_tasks,
)

QUICK_MODULUS = 13


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Everything that defines a demo run; `to_dict()` is its JSON-safe provenance.

    >>> DemoConfig.quick().steps < DemoConfig().steps
    True
    """

    tasks: tuple[TaskSpec, ...] = DEFAULT_TASKS
    seed: int = 0
    num_layers: int = 2
    hidden_size: int = 64
    intermediate_size: int = 128
    num_heads: int = 4
    num_experts: int = 8
    top_k: int = 2
    lr: float = 2e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    steps: int = 1500
    batch_size: int | None = None  # None: full batch (every training equation every step)
    grad_clip: float | None = 1.0  # max global gradient norm; None = no clipping
    grokfast_alpha: float = 0.98  # Grokfast-EMA gradient filter (Lee et al. 2024): EMA decay ...
    grokfast_lambda: float = 0.0  # ... and amplification; 0 = plain AdamW
    router_aux_loss: float = 0.0  # weight of OLMoE's load-balancing loss; 0 = none (the default)
    n_checkpoints: int = 60
    threads: int = 2

    def __post_init__(self) -> None:
        validate_tasks(self.tasks)
        for name in ("num_layers", "hidden_size", "intermediate_size", "num_heads", "num_experts",
                     "top_k", "steps", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} must be divisible by num_heads {self.num_heads}")
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k {self.top_k} cannot exceed num_experts {self.num_experts}")
        if not (self.lr > 0 and self.weight_decay >= 0):
            raise ValueError(f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not (0 <= self.grokfast_alpha < 1 and self.grokfast_lambda >= 0):
            raise ValueError(f"need 0 <= grokfast_alpha < 1 and grokfast_lambda >= 0, got "
                             f"{self.grokfast_alpha}, {self.grokfast_lambda}")
        if self.router_aux_loss < 0:
            raise ValueError(f"router_aux_loss must be >= 0, got {self.router_aux_loss}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be None or > 0, got {self.grad_clip}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be None (full batch) or >= 1, got {self.batch_size}")
        if not 2 <= self.n_checkpoints <= self.steps + 1:
            raise ValueError(f"n_checkpoints must be in [2, steps + 1], got {self.n_checkpoints}")

    @classmethod
    def quick(cls, **overrides: object) -> DemoConfig:
        """The test-sized variant (seconds on 2 cores): the default model and tasks on modulus 13,
        150 steps, 30 checkpoints. It memorises; it need not generalise."""
        tasks = tuple(dataclasses.replace(task, modulus=QUICK_MODULUS) for task in DEFAULT_TASKS)
        settings: dict[str, object] = {"tasks": tasks, "steps": 150, "n_checkpoints": 30}
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> DemoConfig:
        """The inverse of `to_dict`."""
        data = dict(data)
        data["tasks"] = tuple(TaskSpec(**t) for t in data["tasks"])  # type: ignore[union-attr]
        data["betas"] = tuple(data["betas"])  # type: ignore[arg-type]
        return cls(**data)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict of every setting (tasks as a list of dicts)."""
        data = dataclasses.asdict(self)
        data["tasks"] = [task.to_dict() for task in self.tasks]
        data["betas"] = list(self.betas)
        return data


def checkpoint_steps(steps: int, n_checkpoints: int) -> list[int]:
    """`n_checkpoints` sorted steps from 0 to `steps`: geometric ones (dense early, where
    memorisation happens) and evenly spaced ones (the slow generalisation). Steps are
    multiples of a grid of up to 10 steps, except possibly the last.

    >>> s = checkpoint_steps(3000, 40); len(s), s[:8], s[-3:]
    (40, [0, 10, 20, 30, 40, 60, 80, 110], [2740, 2870, 3000])
    """
    grid = max(1, min(10, steps // (2 * n_checkpoints)))

    def snap(x: float) -> int:
        return min(steps, round(x / grid) * grid)

    n_geo = max(2, n_checkpoints // 2)
    geometric = {0, steps} | {snap(grid * (steps / grid) ** (i / (n_geo - 1))) for i in range(n_geo)}
    for n_even in range(2, steps + 2):
        even = {snap(i * steps / (n_even - 1)) for i in range(n_even)}
        if len(geometric | even) >= n_checkpoints:
            break
    early = {step for step in geometric if step < steps / (n_even - 1)}
    return _trim_to(geometric | even, n_checkpoints, keep=early)


def _trim_to(chosen: set[int], n: int, keep: set[int]) -> list[int]:
    """Sorted `chosen`, dropping the step (not an end, not in `keep`) whose neighbours are closest
    until `n` remain."""
    steps = sorted(chosen)
    while len(steps) > n:
        droppable = [i for i in range(1, len(steps) - 1) if steps[i] not in keep] or range(1, len(steps) - 1)
        gaps = {i: steps[i + 1] - steps[i - 1] for i in droppable}
        del steps[min(gaps, key=gaps.get)]
    return steps


def build_model(config: DemoConfig, vocab_size: int, pad_token_id: int = 0):
    """A freshly initialised `OlmoeForCausalLM` (seeded by the caller via torch.manual_seed)."""
    from transformers import OlmoeConfig, OlmoeForCausalLM

    model_config = OlmoeConfig(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_experts=config.num_experts,
        num_experts_per_tok=config.top_k,
        norm_topk_prob=False,
        max_position_embeddings=16,
        pad_token_id=pad_token_id,  # never the default 1: it would freeze that token's embedding
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    return OlmoeForCausalLM(model_config)


@dataclasses.dataclass
class DemoData:
    """The tokenizer and encoded equations of a config, built once and shared."""

    tokenizer: object
    equations: list  # list[Equation], row i of `encoded`
    encoded: EncodedEquations


def prepare_data(config: DemoConfig) -> DemoData:
    """Generate, split and encode every equation of `config.tasks` for `config.seed`."""
    tokenizer = build_demo_tokenizer(config.tasks)
    equations = generate_equations(config.tasks, config.seed)
    return DemoData(tokenizer, equations, encode_equations(equations, tokenizer, config.tasks))


def answer_logits(model, input_ids: torch.Tensor, answer_pos: int) -> torch.Tensor:
    """Logits over the full vocabulary for the answer token. # shape: (n, vocab)"""
    prompt = input_ids[:, :answer_pos]  # shape: (n, answer_pos); causal, so the answer is not needed
    return model(input_ids=prompt).logits[:, -1, :]  # shape: (n, vocab)


@torch.no_grad()
def correctness(model, encoded: EncodedEquations, batch_size: int = 4096) -> torch.Tensor:
    """Whether greedy decoding of one token (argmax over the FULL vocabulary at the "=" position)
    gives the right answer, for every equation (train and held-out, all tasks). # shape: (n,) bool"""
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(encoded.input_ids), batch_size):
        ids = encoded.input_ids[start : start + batch_size]  # shape: (b, seq)
        predicted = answer_logits(model, ids, encoded.answer_pos).argmax(dim=-1)  # shape: (b,)
        parts.append(predicted == ids[:, encoded.answer_pos])
    model.train(was_training)
    return torch.cat(parts)


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the final model, the loss per step and the checkpointed steps."""

    model: object
    data: DemoData
    losses: list[float]
    checkpoints: list[int]
    seconds: float


def train(
    config: DemoConfig,
    on_checkpoint: Callable[[int, object], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    data: DemoData | None = None,
) -> TrainResult:
    """Train one model on every task's training equations; call `on_checkpoint(step, model)`
    (model in eval mode, gradients off) at each of `checkpoint_steps(...)`, step 0 being the
    untrained model, and `on_step(step, loss)` after each optimiser step."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    data = data or prepare_data(config)
    model = build_model(config, vocab_size=len(data.tokenizer), pad_token_id=data.tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=config.betas)
    train_ids = data.encoded.input_ids[data.encoded.is_train]  # shape: (n_train, seq)
    sampler = torch.Generator().manual_seed(config.seed)
    schedule = set(checkpoint_steps(config.steps, config.n_checkpoints))
    slow_grads: dict[str, torch.Tensor] = {}
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(config.steps + 1):
        if step in schedule and on_checkpoint is not None:
            _call_checkpoint(on_checkpoint, step, model)
        if step == config.steps:
            break
        batch = _batch(train_ids, config.batch_size, sampler)  # shape: (b, seq)
        loss = _loss(model, batch, data.encoded.answer_pos, config.router_aux_loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grokfast_lambda > 0:
            _grokfast(model, slow_grads, config.grokfast_alpha, config.grokfast_lambda)
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step + 1, losses[-1])
    return TrainResult(model, data, losses, sorted(schedule), time.perf_counter() - started)


def _loss(model, batch: torch.Tensor, answer_pos: int, aux_weight: float) -> torch.Tensor:
    """Cross-entropy on the answer token, plus `aux_weight` x the router load-balancing loss."""
    if aux_weight == 0:
        logits = answer_logits(model, batch, answer_pos)  # shape: (b, vocab)
        return F.cross_entropy(logits, batch[:, answer_pos])
    out = model(input_ids=batch[:, :answer_pos], output_router_logits=True)
    return F.cross_entropy(out.logits[:, -1, :], batch[:, answer_pos]) + aux_weight * out.aux_loss


def _batch(train_ids: torch.Tensor, batch_size: int | None, sampler: torch.Generator) -> torch.Tensor:
    """The whole training set, or a seeded random mini-batch of it. # shape: (b, seq)"""
    if batch_size is None or batch_size >= len(train_ids):
        return train_ids
    return train_ids[torch.randperm(len(train_ids), generator=sampler)[:batch_size]]


@torch.no_grad()
def _grokfast(model, slow_grads: dict[str, torch.Tensor], alpha: float, lamb: float) -> None:
    """Grokfast-EMA: add `lamb` x an exponential moving average of past gradients to each
    gradient, amplifying the slow component that drives generalisation (arXiv 2405.20233)."""
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        if name not in slow_grads:
            slow_grads[name] = param.grad.detach().clone()
        else:
            slow_grads[name].mul_(alpha).add_(param.grad, alpha=1 - alpha)
        param.grad.add_(slow_grads[name], alpha=lamb)


def _call_checkpoint(on_checkpoint: Callable[[int, object], None], step: int, model) -> None:
    """Run the callback with the model in eval mode and no gradients, then restore training."""
    model.eval()
    with torch.no_grad():
        on_checkpoint(step, model)
    model.train()
