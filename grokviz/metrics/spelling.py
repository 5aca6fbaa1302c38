"""Pathway strings re-spelt with one symbol per expert id, so that character-level Levenshtein
on the result is the expert-level pathway distance (METHOD 3; `grokviz.metrics.distance` uses it).

Expert id e becomes chr(0x100 + e), clear of ASCII "-", "," and digits; "-" between layers is kept.
`encode_expert_level` parses all strings at once with NumPy; `_encode_slowly` is the per-layer
reference it falls back to, which names a string that is not a pathway.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SYMBOL_BASE = 0x100  # expert id e -> chr(0x100 + e): clear of ASCII "-", ",", digits
_MAX_EXPERT_ID = 0xD800 - _SYMBOL_BASE - 1  # stay below the surrogate code points


def _encode_layer(layer: str) -> str:
    """One layer string "3,12" as one symbol per expert id."""
    if not layer:
        return ""
    ids = [int(part) for part in layer.split(",")]
    if min(ids) < 0 or max(ids) > _MAX_EXPERT_ID:
        raise ValueError(f"expert ids must lie in [0, {_MAX_EXPERT_ID}], got layer {layer!r}")
    return "".join(chr(_SYMBOL_BASE + i) for i in ids)


def _encode_slowly(pathways: Sequence[str]) -> list[str]:
    """`encode_expert_level` one layer at a time (the reference; it names a bad string)."""
    encoded = []
    for pathway in pathways:
        try:
            encoded.append("-".join(_encode_layer(layer) for layer in pathway.split("-")))
        except ValueError as err:
            raise ValueError(f"not a pathway string: {pathway!r} ({err})") from None
    return encoded


_DIGITS_MAX = len(str(_MAX_EXPERT_ID))


def encode_expert_level(pathways: Sequence[str]) -> list[str]:
    """Pathways re-spelt with one symbol per expert id (chr(0x100 + id)), "-" kept.

    Character-level Levenshtein on the result is the expert-level distance. Parsed for all strings
    at once with NumPy (about 40x a per-layer Python loop); anything that is not a pathway string
    is handed to the per-layer reference, which names it.

    >>> encode_expert_level(["3,12-0"]) == [chr(0x103) + chr(0x10C) + "-" + chr(0x100)]
    True
    >>> encode_expert_level(["1--2", "7"]) == [chr(0x101) + "--" + chr(0x102), chr(0x107)]
    True
    """
    strings = [str(p) for p in pathways]
    if not strings:
        return []
    try:
        raw = np.frombuffer(";".join(strings).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return _encode_slowly(strings)
    digit = (raw >= ord("0")) & (raw <= ord("9"))
    comma, dash, cut = raw == ord(","), raw == ord("-"), raw == ord(";")
    before = np.concatenate([[False], digit[:-1]])
    after = np.concatenate([digit[1:], [False]])
    if not (digit | comma | dash | cut).all() or not (before & after)[comma].all() or cut.sum() != len(strings) - 1:
        return _encode_slowly(strings)
    starts = digit & ~before  # (n_chars,) first digit of each id
    first, last = np.flatnonzero(starts), np.flatnonzero(digit & ~after)  # (n_ids,) each
    lengths = last - first + 1
    if lengths.max(initial=0) > _DIGITS_MAX:
        return _encode_slowly(strings)
    ids = np.zeros(len(first), dtype=np.int64)
    for k in range(int(lengths.max(initial=0))):  # one pass per digit position (2 for 64 experts)
        more = lengths > k
        ids[more] = ids[more] * 10 + (raw[first[more] + k] - ord("0"))
    if ids.max(initial=0) > _MAX_EXPERT_ID:
        return _encode_slowly(strings)
    kept = starts | dash | cut
    codes = raw[kept].astype("<u4")
    codes[starts[kept]] = _SYMBOL_BASE + ids
    return codes.tobytes().decode("utf-32-le").split(";")
