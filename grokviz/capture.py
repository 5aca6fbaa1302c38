"""Capture routing with forward hooks and reduce one batch to per-sample results.

`RouterHooks` records each router's logits and the model's own top-k choice during one forward
pass. `reduce_batch` turns a batch's model output and captured routing into what the store
keeps: per sample the mean token loss over predicted tokens and, per layer, the token-averaged
FULL softmax distribution (METHOD.md 2, step 2); per token (for selected samples) the model's
top-k experts with their router probabilities. Padding never counts.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F


class RouterHooks:
    """Context manager: forward hooks on routers that keep the last pass's logits and top-k."""

    def __init__(self, routers: list[torch.nn.Module]) -> None:
        self.routers = routers
        self.logits: list[torch.Tensor | None] = [None] * len(routers)
        self.indices: list[torch.Tensor | None] = [None] * len(routers)
        self._handles: list = []

    def _hook(self, layer: int):
        def record(_module, _inputs, output) -> None:
            self.logits[layer] = output[0].detach()  # shape: (batch * pos, experts)
            self.indices[layer] = output[2].detach()  # shape: (batch * pos, top_k)
        return record

    def __enter__(self) -> "RouterHooks":
        self._handles = [r.register_forward_hook(self._hook(i)) for i, r in enumerate(self.routers)]
        return self

    def __exit__(self, *_exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@dataclasses.dataclass
class BatchResult:
    """Per-sample results of one batch, as CPU tensors."""

    loss: torch.Tensor  # shape: (batch,)  mean loss over predicted tokens
    n_loss_tokens: torch.Tensor  # shape: (batch,)
    dist: torch.Tensor  # shape: (batch, layers, experts)  token-averaged full softmax
    top_index: torch.Tensor  # shape: (batch, pos, layers, top_k)
    top_weight: torch.Tensor  # shape: (batch, pos, layers, top_k)  router probabilities


def sample_losses(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean next-token loss per sample over positions where `loss_mask` is set (the target).

    `loss_mask[b, j]` says whether token j of sample b is a predicted target (never the first
    token, never padding). Computed one sample at a time in float32 to bound memory.
    """
    losses, counts = [], []
    for b in range(logits.shape[0]):
        targets = input_ids[b, 1:]  # shape: (pos - 1,)
        mask = loss_mask[b, 1:]
        token_loss = F.cross_entropy(logits[b, :-1].float(), targets, reduction="none")
        count = mask.sum()
        mean = (token_loss * mask).sum() / count.clamp(min=1)
        losses.append(mean if count > 0 else torch.full_like(mean, float("nan")))
        counts.append(count)
    return torch.stack(losses), torch.stack(counts)


def reduce_batch(logits: torch.Tensor, hooks: RouterHooks, input_ids: torch.Tensor,
                 route_mask: torch.Tensor, loss_mask: torch.Tensor) -> BatchResult:
    """Reduce one forward pass to per-sample loss, distributions and per-token top-k."""
    batch, pos = input_ids.shape
    loss, n_loss = sample_losses(logits, input_ids, loss_mask)
    weights = route_mask.float().unsqueeze(-1)  # shape: (batch, pos, 1)
    denom = weights.sum(dim=1).clamp(min=1)  # shape: (batch, 1)
    dists, top_index, top_weight = [], [], []
    for layer_logits, layer_index in zip(hooks.logits, hooks.indices):
        probs = torch.softmax(layer_logits.float(), dim=-1).view(batch, pos, -1)  # (batch, pos, E)
        dists.append((probs * weights).sum(dim=1) / denom)  # shape: (batch, E)
        index = layer_index.view(batch, pos, -1)  # shape: (batch, pos, top_k)
        top_index.append(index)
        top_weight.append(probs.gather(-1, index))
    return BatchResult(
        loss=loss.cpu(), n_loss_tokens=n_loss.cpu(),
        dist=torch.stack(dists, dim=1).cpu(),  # shape: (batch, layers, E)
        top_index=torch.stack(top_index, dim=2).cpu(),  # shape: (batch, pos, layers, top_k)
        top_weight=torch.stack(top_weight, dim=2).cpu(),
    )
