"""Tokenise samples once per run and pack them into batches by a token budget.

Pure bookkeeping on token ids: no model, no store. The loss mask keeps only tokens after the
sample's prompt (all tokens but the first when there is no prompt); the route mask keeps every
real token, or only the completion tokens when `RouteSpan.COMPLETION` is asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from grokviz import names


@dataclasses.dataclass(frozen=True)
class Encoded:
    """Token ids of every sample of a run, in sample order."""

    ids: list[np.ndarray]  # one int64 array of token ids per sample
    prompt_tokens: np.ndarray  # shape: (n_samples,)  tokens belonging to the prompt
    truncated: np.ndarray  # shape: (n_samples,)  bool

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(i) for i in self.ids], dtype=np.int64)


def encode_samples(samples: pd.DataFrame, tokenizer, max_length: int) -> Encoded:
    """Tokenise `text` (and `prompt`, to find where the loss starts), truncating to max_length."""
    texts = samples[names.TEXT].tolist()
    full = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    prompts = samples[names.PROMPT].tolist()
    prompt_ids = tokenizer([p or "" for p in prompts], add_special_tokens=True, truncation=False)["input_ids"]
    ids, prompt_tokens, truncated = [], [], []
    for tokens, prompt, prompt_text in zip(full, prompt_ids, prompts):
        truncated.append(len(tokens) > max_length)
        ids.append(np.asarray(tokens[:max_length], dtype=np.int64))
        prompt_tokens.append(len(prompt) if prompt_text else 1)
    return Encoded(ids, np.asarray(prompt_tokens), np.asarray(truncated))


def token_batches(order: Sequence[int], lengths: np.ndarray, budget: int) -> Iterator[list[int]]:
    """Batches of sample indices, longest first, whose padded size stays within `budget` tokens
    (a sample longer than the budget gets a batch of its own).

    >>> list(token_batches([0, 1, 2], np.array([4, 2, 3]), budget=8))
    [[0, 2], [1]]
    """
    ranked = sorted(order, key=lambda i: (-lengths[i], i))
    batch: list[int] = []
    for index in ranked:
        width = lengths[batch[0]] if batch else lengths[index]
        if batch and width * (len(batch) + 1) > budget:
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def pad_batch(encoded: Encoded, batch: Sequence[int], pad_id: int, completion_routes: bool
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded ids, attention mask, loss mask and route mask, each (batch, pos).

    >>> enc = Encoded([np.array([5, 6, 7]), np.array([8, 9])], np.array([2, 1]), np.array([False] * 2))
    >>> ids, attention, loss, route = pad_batch(enc, [0, 1], pad_id=0, completion_routes=False)
    >>> ids.tolist(), loss.tolist()
    ([[5, 6, 7], [8, 9, 0]], [[False, False, True], [False, True, False]])
    """
    width = max(len(encoded.ids[i]) for i in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)  # shape: (batch, pos)
    attention = np.zeros((len(batch), width), dtype=bool)
    loss = np.zeros((len(batch), width), dtype=bool)
    for row, index in enumerate(batch):
        tokens = encoded.ids[index]
        ids[row, : len(tokens)] = tokens
        attention[row, : len(tokens)] = True
        loss[row, encoded.prompt_tokens[index]: len(tokens)] = True
    route = loss.copy() if completion_routes else attention.copy()
    return ids, attention, loss, route
