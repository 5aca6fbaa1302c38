"""Turn model outputs into correct / wrong: option scores, stop sequences, answer normalisation.

Pure functions over numbers and strings (no torch, no store), so every rule is testable and
documented by example. Multiple choice follows lm-evaluation-harness: `acc` takes the option
with the highest summed log-likelihood, `acc_norm` divides each by the option's length in
characters (`len(choice)` of the option text without its leading space; equal to bytes for
ASCII). Exact answers: generation cut at the first stop sequence, then normalised the same
way as the reference answer before comparing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from grokviz.config import ChoiceNorm

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def pick_option(logliks: Sequence[float], choices: Sequence[str], n_tokens: Sequence[int],
                norm: ChoiceNorm) -> int:
    """Index of the option chosen under a normalisation (ties: the first).

    >>> pick_option([-4.0, -5.0], ["a", "bbbb"], [1, 2], ChoiceNorm.NONE)
    0
    >>> pick_option([-4.0, -5.0], ["a", "bbbb"], [1, 2], ChoiceNorm.CHARS)
    1
    >>> pick_option([-4.0, -5.0], ["a", "bbbb"], [1, 4], ChoiceNorm.TOKENS)
    1
    """
    scores = np.asarray(logliks, dtype=np.float64)
    if norm == ChoiceNorm.CHARS:
        scores = scores / np.array([max(len(c), 1) for c in choices], dtype=np.float64)
    elif norm == ChoiceNorm.TOKENS:
        scores = scores / np.maximum(np.asarray(n_tokens, dtype=np.float64), 1)
    return int(np.argmax(scores))


def choice_scores(logliks: Sequence[float], choices: Sequence[str], n_tokens: Sequence[int],
                  answer: int, norm: ChoiceNorm) -> dict[str, int]:
    """acc, acc_norm (characters), acc_tokens and `correct` (under `norm`) of one item.

    >>> choice_scores([-4.0, -5.0], ["a", "bbbb"], [1, 1], 1, ChoiceNorm.CHARS)
    {'acc': 0, 'acc_norm': 1, 'acc_tokens': 0, 'correct': 1}
    """
    picks = {norm_: pick_option(logliks, choices, n_tokens, norm_) for norm_ in ChoiceNorm}
    hit = {norm_: int(pick == answer) for norm_, pick in picks.items()}
    return {"acc": hit[ChoiceNorm.NONE], "acc_norm": hit[ChoiceNorm.CHARS],
            "acc_tokens": hit[ChoiceNorm.TOKENS], "correct": hit[norm]}


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the earliest stop sequence (all of it when none occurs).

    >>> cut_at_stop("19.\\nQuestion: 3 + 4", ["\\n", "Question:"])
    '19.'
    """
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def last_number(text: str) -> str | None:
    """The last number in `text`, without thousands separators or a trailing `.0`.

    >>> last_number("so 3 + 4 = 1,007.0 apples"), last_number("no digits")
    ('1007', None)
    """
    found = NUMBER.findall(text)
    if not found:
        return None
    value = found[-1].replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".") or "0"
    return value


def normalize(text: str, *, use_last_number: bool = False) -> str:
    """Strip, lowercase, drop a trailing period; optionally keep only the last number.

    >>> normalize("  Paris. "), normalize("The answer is 42.", use_last_number=True)
    ('paris', '42')
    """
    if use_last_number:
        number = last_number(text)
        if number is not None:
            return number
    text = text.strip().lower()
    return text[:-1].rstrip() if text.endswith(".") else text


def exact_match(generation: str, answer: str, stops: Sequence[str], *, use_last_number: bool = False
                ) -> tuple[int, str]:
    """(1 if the cut, normalised generation equals the normalised answer, the prediction).

    >>> exact_match(" 19.\\n\\nQuestion: 2 + 2", "19", ["\\n"])
    (1, '19')
    """
    prediction = normalize(cut_at_stop(generation, stops), use_last_number=use_last_number)
    return int(prediction == normalize(answer, use_last_number=use_last_number)), prediction
