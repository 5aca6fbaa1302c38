"""What every settings dataclass shares: run names, JSON provenance, the settings hash, and the
enumerated options of extraction (device, route span).

Nothing here touches torch, files or the store.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from typing import Any

from grokviz.errors import InputError

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class Device(str, enum.Enum):
    """Where extraction runs: `auto` picks CUDA when present, else CPU."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class RouteSpan(str, enum.Enum):
    """Which tokens' router distributions are averaged into a sample's distribution (METHOD 2)."""

    AUTO = "auto"  # predicting for samples with a prompt, all for plain text (the default)
    ALL = "all"  # every non-padding token: the paper's plain-text reading
    PREDICTING = "predicting"  # positions whose next token carries loss (the "=" of an equation)
    COMPLETION = "completion"  # the tokens that carry loss themselves (after the prompt)


def check_run_name(name: str) -> str:
    """Return `name` if it is a safe run name (letters, digits, `_.-`), else raise.

    >>> check_run_name("olmoe-math_1")
    'olmoe-math_1'
    """
    if not isinstance(name, str) or not RUN_NAME.fullmatch(name):  # `match` + `$` let "x\n" through
        raise InputError(f"run name {name!r} must be 1-100 of letters, digits, '_', '.', '-'",
                         field="run")
    return name


def _positive(value: int | float | None, field: str) -> None:
    if value is None or value <= 0:
        raise InputError(f"must be a positive number, got {value!r}", field=field)


def to_jsonable(value: Any) -> Any:
    """Enums to their values, tuples to lists, dataclasses to dicts, recursively."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def readable(value: Any) -> str:
    """A settings value as one readable line: dicts as k=v, lists comma-separated (lists of dicts by ";")."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={readable(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        sep = "; " if any(isinstance(v, dict) for v in value) else ", "
        return sep.join(readable(v) for v in value)
    return str(value)


def settings_hash(settings: dict[str, Any]) -> str:
    """A short stable hash of a JSON-safe settings dict (key order does not matter).

    >>> settings_hash({"b": 1, "a": 2}) == settings_hash({"a": 2, "b": 1})
    True
    """
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
