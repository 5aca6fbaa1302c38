"""Tokenise samples once per run, mark which tokens carry loss, and pack batches by a token budget.

Pure bookkeeping on token ids: no model, no store. A token carries loss (is a *target*) when it
is not the first token and, for a sample with a prompt, when its characters reach past the
prompt: the boundary comes from the tokenizer's character offsets of the full text, so a
tokenizer that adds special tokens ([CLS], [SEP], BOS, EOS) never shifts it. A token that
straddles the boundary (starts inside the prompt, ends after it) carries loss: it holds answer
characters. Special tokens have no characters and never carry loss after a prompt.
Route spans (METHOD 2): `all` real tokens, `predicting` positions (those whose next token carries
loss: the "=" of an equation), `completion` (the targets themselves), or `auto` (predicting for
samples with a prompt, all for plain text). Start at `encode_samples`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.config import RouteSpan
from grokviz.errors import InputError


@dataclasses.dataclass(frozen=True)
class Encoded:
    """Token ids of every sample of a run, in sample order, with the tokens that carry loss."""

    ids: list[np.ndarray]  # one int64 array of token ids per sample
    targets: list[np.ndarray]  # one bool array per sample: the token carries loss
    truncated: np.ndarray  # shape: (n_samples,)  bool
    prompted: np.ndarray | None = None  # shape: (n_samples,)  bool: the sample has a prompt

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(i) for i in self.ids], dtype=np.int64)


def plain_targets(length: int) -> np.ndarray:
    """Loss on every token but the first (next-token prediction over plain text).

    >>> plain_targets(3).tolist()
    [False, True, True]
    """
    mask = np.ones(length, dtype=bool)
    mask[:1] = False
    return mask


def prompt_targets(offsets: Sequence[tuple[int, int]], prompt_chars: int) -> np.ndarray:
    """Loss on the tokens whose characters reach past the prompt's `prompt_chars` characters.

    `offsets` are the tokenizer's (start, end) character spans; (0, 0) marks a special token.

    >>> prompt_targets([(0, 0), (0, 4), (5, 7), (7, 9), (0, 0)], 6).tolist()  # [CLS] what is|x ? [SEP]
    [False, False, True, True, False]
    """
    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    real = spans[:, 1] > spans[:, 0]
    mask = real & (spans[:, 1] > prompt_chars)
    mask[:1] = False  # the first token is never predicted
    return mask


def encode_samples(samples: pd.DataFrame, tokenizer, max_length: int) -> Encoded:
    """Tokenise `text` (with special tokens), mark its loss tokens after `prompt`, truncate."""
    texts = samples[names.TEXT].tolist()
    raw = samples[names.PROMPT].tolist() if names.PROMPT in samples else [None] * len(texts)
    prompts = [p if isinstance(p, str) and p else None for p in raw]  # None, NaN and "": plain text
    with_prompt = any(prompts)
    encoded = tokenizer(texts, add_special_tokens=True, truncation=False,
                        return_offsets_mapping=with_prompt and getattr(tokenizer, "is_fast", False))
    if with_prompt and "offset_mapping" not in encoded:
        raise InputError("samples with a prompt need a fast tokenizer (character offsets mark where the "
                         f"prompt ends); {type(tokenizer).__name__} has none", field="prompt")
    ids, targets, truncated = [], [], []
    for i, tokens in enumerate(encoded["input_ids"]):
        prompt = prompts[i]
        # prompts are strict prefixes of their texts (checked by grokviz.inputs.samples)
        mask = prompt_targets(encoded["offset_mapping"][i], len(prompt)) if prompt else plain_targets(len(tokens))
        truncated.append(len(tokens) > max_length)
        ids.append(np.asarray(tokens[:max_length], dtype=np.int64))
        targets.append(mask[:max_length])
    return Encoded(ids, targets, np.asarray(truncated, dtype=bool), np.array([bool(p) for p in prompts]))


def route_positions(targets: np.ndarray, span: RouteSpan | str, prompted: bool = False) -> np.ndarray:
    """The positions whose router distributions are averaged, for one sample (`auto`: predicting
    when the sample has a prompt, else all).

    >>> t = np.array([False, False, False, True, True])  # "pow3 12 7 = 7 <eos>": loss on "7" and <eos>
    >>> [route_positions(t, s).astype(int).tolist() for s in ("all", "predicting", "completion")]
    [[1, 1, 1, 1, 1], [0, 0, 1, 1, 0], [0, 0, 0, 1, 1]]
    """
    span = RouteSpan(span)
    if span == RouteSpan.AUTO:
        span = RouteSpan.PREDICTING if prompted else RouteSpan.ALL
    if span == RouteSpan.ALL:
        return np.ones(len(targets), dtype=bool)
    if span == RouteSpan.COMPLETION:
        return targets.copy()
    predicting = np.zeros(len(targets), dtype=bool)
    predicting[:-1] = targets[1:]  # position j predicts token j + 1
    return predicting


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


def pad_batch(encoded: Encoded, batch: Sequence[int], pad_id: int, span: RouteSpan | str = RouteSpan.ALL
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Right-padded ids, attention mask, loss mask and route mask, each (batch, pos).

    >>> enc = Encoded([np.array([5, 6, 7]), np.array([8, 9])], [np.array([0, 0, 1], bool), np.array([0, 1], bool)],
    ...               np.array([False] * 2))
    >>> ids, attention, loss, route = pad_batch(enc, [0, 1], pad_id=0, span="predicting")
    >>> ids.tolist(), loss.tolist(), route.tolist()
    ([[5, 6, 7], [8, 9, 0]], [[False, False, True], [False, True, False]], [[False, True, False], [True, False, False]])
    """
    width = max(len(encoded.ids[i]) for i in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)  # shape: (batch, pos)
    attention = np.zeros((len(batch), width), dtype=bool)
    loss = np.zeros((len(batch), width), dtype=bool)
    route = np.zeros((len(batch), width), dtype=bool)
    for row, index in enumerate(batch):
        tokens, targets = encoded.ids[index], encoded.targets[index]
        ids[row, : len(tokens)] = tokens
        attention[row, : len(tokens)] = True
        loss[row, : len(tokens)] = targets
        prompted = bool(encoded.prompted[index]) if encoded.prompted is not None else False
        route[row, : len(tokens)] = route_positions(targets, span, prompted)
    return ids, attention, loss, route
