"""Capture routing with forward hooks and reduce one batch to per-sample results.

`RouterHooks` records each router's logits and the model's own top-k choice during one forward
pass. `reduce_batch` turns a batch's model output and captured routing into what the store
keeps: per sample the mean token loss over predicted tokens and, per layer, the token-averaged
FULL softmax distribution (METHOD.md 2, step 2); per token (for selected samples) the model's
top-k experts with their router probabilities. Padding never counts.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F


class RouterHooks:
    """Context manager: forward hooks on routers that keep the last pass's logits and top-k."""

    def __init__(self, routers: list[torch.nn.Module]) -> None:
        self.routers = routers
        self.logits: list[torch.Tensor | None] = [None] * len(routers)
        self.indices: list[torch.Tensor | None] = [None] * len(routers)
        self.is_probability: list[bool | None] = [None] * len(routers)  # decided on a router's first output
        self._handles: list = []

    def _hook(self, layer: int):
        def record(_module, _inputs, output) -> None:
            self.logits[layer] = output[0].detach()  # shape: (batch * pos, experts)
            self.indices[layer] = output[2].detach()  # shape: (batch * pos, top_k)
        return record

    def __enter__(self) -> RouterHooks:
        self._handles = [r.register_forward_hook(self._hook(i)) for i, r in enumerate(self.routers)]
        return self

    def __exit__(self, *_exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@dataclasses.dataclass
class BatchResult:
    """Per-sample results of one batch, as CPU tensors."""

    loss: torch.Tensor  # shape: (batch,)  mean loss over predicted tokens (NaN if none)
    n_loss_tokens: torch.Tensor  # shape: (batch,)
    dist: torch.Tensor  # shape: (batch, layers, experts)  token-averaged full softmax
    token_rows: list[int]  # batch rows whose per-token routes follow
    top_index: torch.Tensor  # shape: (len(token_rows), pos, layers, top_k)
    top_weight: torch.Tensor  # shape: (len(token_rows), pos, layers, top_k)  router probabilities
    token_sums: TokenSums | None = None  # per token id, over the route-span positions of the batch


@dataclasses.dataclass
class TokenSums:
    """Sums of the full router distributions per token id (the token-identity null, METHOD 11)."""

    ids: np.ndarray  # shape: (n_ids,)  int64, ascending
    sums: np.ndarray  # shape: (n_ids, layers, experts)  float64
    counts: np.ndarray  # shape: (n_ids,)  int64

    @staticmethod
    def merge(parts: list[TokenSums]) -> TokenSums | None:
        """One TokenSums from several, added in the given order (float64: the same order gives
        the same bits, so a resumed extraction writes what an uninterrupted one does)."""
        parts = [p for p in parts if p is not None and len(p.ids)]
        if not parts:
            return None
        ids, inverse = np.unique(np.concatenate([p.ids for p in parts]), return_inverse=True)
        sums = np.zeros((len(ids), *parts[0].sums.shape[1:]))
        counts = np.zeros(len(ids), dtype=np.int64)
        offset = 0
        for part in parts:  # np.add.at in order: deterministic
            rows = inverse[offset: offset + len(part.ids)]
            np.add.at(sums, rows, part.sums)
            np.add.at(counts, rows, part.counts)
            offset += len(part.ids)
        return TokenSums(ids, sums, counts)


def sample_losses(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor,
                  chunk_elements: int = 2**26) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean next-token loss per sample over positions where `loss_mask` is set (the target).

    `loss_mask[b, j]` says whether token j of sample b is a predicted target (never the first
    token, never padding). Float32 cross-entropy in chunks of rows of about `chunk_elements`
    logits, so memory stays bounded at large vocabularies; no host synchronisation.
    """
    batch, pos, vocab = logits.shape
    rows = max(1, chunk_elements // max(1, pos * vocab))
    token_loss = torch.cat([
        F.cross_entropy(logits[i: i + rows, :-1].float().reshape(-1, vocab),
                        input_ids[i: i + rows, 1:].reshape(-1), reduction="none")
        .view(-1, pos - 1) for i in range(0, batch, rows)])  # shape: (batch, pos - 1)
    mask = loss_mask[:, 1:].float()
    count = mask.sum(dim=1)
    mean = (token_loss * mask).sum(dim=1) / count.clamp(min=1)
    return torch.where(count > 0, mean, torch.full_like(mean, float("nan"))), count


def looks_like_probabilities(output: torch.Tensor, atol: float = 1e-3) -> bool:
    """Whether a router's output rows are already a distribution (non-negative, summing to 1): a
    transformers release returned softmaxed router output as `router_logits`; softmaxing it again
    would flatten every distribution towards uniform.

    >>> looks_like_probabilities(torch.tensor([[0.7, 0.3]])), looks_like_probabilities(torch.tensor([[2.0, -1.0]]))
    (True, False)
    """
    x = output.float()
    return bool((x >= 0).all()) and bool(torch.allclose(x.sum(dim=-1), torch.ones(1, device=x.device), atol=atol))


def router_probabilities(output: torch.Tensor, is_probability: bool) -> torch.Tensor:
    """The full distribution over all experts: softmax of the logits, or the output itself when
    it already is one. # shape: (tokens, E)"""
    return output.float() if is_probability else torch.softmax(output.float(), dim=-1)


def reduce_batch(logits: torch.Tensor, hooks: RouterHooks, input_ids: torch.Tensor,
                 route_mask: torch.Tensor, loss_mask: torch.Tensor,
                 token_rows: list[int] | None = None, token_sums: bool = False) -> BatchResult:
    """Reduce one forward pass to per-sample loss and distributions, per-token top-k for
    `token_rows` (all rows when None) and, when asked, the per-token-id sums of the full
    distributions over the route-span positions."""
    batch, pos = input_ids.shape
    token_rows = list(range(batch)) if token_rows is None else list(token_rows)
    rows = torch.tensor(token_rows, dtype=torch.long, device=input_ids.device)
    loss, n_loss = sample_losses(logits, input_ids, loss_mask)
    weights = route_mask.float().unsqueeze(-1)  # shape: (batch, pos, 1)
    denom = weights.sum(dim=1).clamp(min=1)  # shape: (batch, 1)
    dists, top_index, top_weight, by_id = [], [], [], []
    selected = route_mask.bool()  # (batch, pos): the positions whose routing counts
    if token_sums:
        ids, inverse = torch.unique(input_ids[selected], return_inverse=True)  # (n_ids,), (n_selected,)
    for layer, (layer_logits, layer_index) in enumerate(zip(hooks.logits, hooks.indices)):
        if hooks.is_probability[layer] is None:  # one host sync per router and checkpoint, not per batch
            hooks.is_probability[layer] = looks_like_probabilities(layer_logits)
        probs = router_probabilities(layer_logits, hooks.is_probability[layer]).view(batch, pos, -1)  # (batch, pos, E)
        dists.append((probs * weights).sum(dim=1) / denom)  # shape: (batch, E)
        index = layer_index.view(batch, pos, -1)[rows]  # shape: (kept, pos, top_k)
        top_index.append(index)
        top_weight.append(probs[rows].gather(-1, index))
        if token_sums:  # shape: (n_ids, E)
            by_id.append(torch.zeros(len(ids), probs.shape[-1], dtype=torch.float64, device=probs.device)
                         .index_add_(0, inverse, probs[selected].double()))
    sums = TokenSums(ids.cpu().numpy(), torch.stack(by_id, dim=1).cpu().numpy(),
                     torch.bincount(inverse, minlength=len(ids)).cpu().numpy()) if token_sums else None
    return BatchResult(
        loss=loss.cpu(), n_loss_tokens=n_loss.cpu(),
        dist=torch.stack(dists, dim=1).cpu(),  # shape: (batch, layers, E)
        token_rows=token_rows,
        top_index=torch.stack(top_index, dim=2).cpu(),  # shape: (kept, pos, layers, top_k)
        top_weight=torch.stack(top_weight, dim=2).cpu(),
        token_sums=sums,
    )
