"""Score texts with a loaded causal LM: continuation log-likelihoods, greedy generations with
stop sequences, and per-token Min-K%++ z-scores.

The torch half of evaluation and contamination (the extraction layer: the only place, with
extract/capture, that runs models). Requests are batched by a token budget with
`encode.token_batches`, so results do not depend on the batch size beyond float rounding.
Nothing here reads files or writes the store.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from grokviz.errors import InputError
from grokviz.extract.encode import token_batches

Request = tuple[np.ndarray, int]  # (token ids of context + continuation, continuation length)


def _ids(tokenizer, text: str, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def encode_requests(tokenizer, contexts: Sequence[str], continuations: Sequence[str],
                    max_length: int) -> list[Request]:
    """Tokenise each (context, continuation) pair separately, as lm-evaluation-harness does
    (trailing context whitespace moves to the continuation; an empty context becomes the BOS
    or EOS token), and keep the last `max_length` tokens."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    requests = []
    for context, continuation in zip(contexts, continuations):
        stripped = context.rstrip()
        continuation = context[len(stripped):] + continuation
        context_ids = _ids(tokenizer, stripped, True) or [start if start is not None else 0]
        continuation_ids = _ids(tokenizer, continuation, False)
        if not continuation_ids:
            raise InputError(f"option {continuation!r} has no tokens", field="choices")
        full = (context_ids + continuation_ids)[-max_length:]
        requests.append((np.asarray(full, dtype=np.int64), min(len(continuation_ids), len(full) - 1)))
    return requests


def _padded(sequences: Sequence[np.ndarray], pad_id: int, left: bool, device: torch.device
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Ids and attention mask, each (batch, pos), padded on the right (or left)."""
    width = max(len(s) for s in sequences)
    ids = np.full((len(sequences), width), pad_id, dtype=np.int64)  # shape: (batch, pos)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, seq in enumerate(sequences):
        span = slice(width - len(seq), width) if left else slice(0, len(seq))
        ids[row, span], mask[row, span] = seq, 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


@torch.inference_mode()
def continuation_logliks(model: torch.nn.Module, requests: Sequence[Request], pad_id: int,
                         device: torch.device, token_budget: int) -> np.ndarray:
    """Summed log p(continuation | context) of every request, shape (n_requests,)."""
    lengths = np.array([len(ids) for ids, _ in requests], dtype=np.int64)
    totals = np.zeros(len(requests), dtype=np.float64)
    for batch in token_batches(range(len(requests)), lengths, token_budget):
        ids, mask = _padded([requests[i][0] for i in batch], pad_id, False, device)
        logits = model(input_ids=ids, attention_mask=mask).logits  # shape: (batch, pos, vocab)
        rows, positions, owners = [], [], []
        for row, index in enumerate(batch):
            length, n_cont = len(requests[index][0]), requests[index][1]
            positions.append(np.arange(length - n_cont - 1, length - 1))  # predicting positions
            rows.append(np.full(n_cont, row))
            owners.append(np.full(n_cont, index))
        rows_t = torch.from_numpy(np.concatenate(rows)).to(device)
        pos_t = torch.from_numpy(np.concatenate(positions)).to(device)
        log_probs = logits[rows_t, pos_t].float().log_softmax(-1)  # shape: (targets, vocab)
        picked = log_probs.gather(1, ids[rows_t, pos_t + 1].unsqueeze(1)).squeeze(1)
        np.add.at(totals, np.concatenate(owners), picked.double().cpu().numpy())
    return totals


@torch.inference_mode()
def token_zscores(model: torch.nn.Module, sequences: Sequence[np.ndarray], pad_id: int,
                  device: torch.device, token_budget: int) -> list[np.ndarray]:
    """Min-K%++ per-token scores (Zhang et al. 2024) of each sequence, one per predicted token:
    (log p(x_t) - mu_t) / sigma_t, mu_t and sigma_t the mean and standard deviation of log p
    over the vocabulary under the model's own distribution at position t."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    out: list[np.ndarray] = [np.zeros(0)] * len(sequences)
    for batch in token_batches(range(len(sequences)), lengths, token_budget):
        ids, mask = _padded([sequences[i] for i in batch], pad_id, False, device)
        logits = model(input_ids=ids, attention_mask=mask).logits  # shape: (batch, pos, vocab)
        for row, index in enumerate(batch):
            length = int(lengths[index])
            log_probs = logits[row, : length - 1].float().log_softmax(-1)  # shape: (pos, vocab)
            probs = log_probs.exp()
            mu = (probs * log_probs).sum(-1)  # shape: (pos,)
            sigma = ((probs * log_probs.square()).sum(-1) - mu.square()).clamp_min(1e-12).sqrt()
            target = log_probs.gather(1, ids[row, 1:length].unsqueeze(1)).squeeze(1)
            out[index] = ((target - mu) / sigma).double().cpu().numpy()
    return out


class StopOnSequences:
    """Stopping criterion of `generate`: a row is done once its new text holds a stop sequence."""

    def __init__(self, tokenizer, prompt_width: int, stops: Sequence[str]) -> None:
        self.tokenizer, self.prompt_width, self.stops = tokenizer, prompt_width, [s for s in stops if s]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:], skip_special_tokens=True)
        done = [any(stop in text for stop in self.stops) for text in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


@torch.inference_mode()
def greedy_generate(model: torch.nn.Module, tokenizer, prompts: Sequence[np.ndarray],
                    stops: Sequence[str], max_new_tokens: int, pad_id: int, device: torch.device,
                    token_budget: int) -> list[str]:
    """Greedy continuations of each prompt (left-padded batches), decoded without special
    tokens; generation of a batch ends when every row holds a stop sequence, emits EOS, or
    reaches `max_new_tokens`. The caller cuts each text at its first stop sequence."""
    from transformers import StoppingCriteriaList

    lengths = np.array([len(p) + max_new_tokens for p in prompts], dtype=np.int64)
    texts = [""] * len(prompts)
    for batch in token_batches(range(len(prompts)), lengths, token_budget):
        ids, mask = _padded([prompts[i] for i in batch], pad_id, True, device)
        criteria = StoppingCriteriaList([StopOnSequences(tokenizer, ids.shape[1], stops)])
        output = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                do_sample=False, pad_token_id=pad_id, stopping_criteria=criteria)
        decoded = tokenizer.batch_decode(output[:, ids.shape[1]:], skip_special_tokens=True)
        for index, text in zip(batch, decoded):
            texts[index] = text
    return texts
