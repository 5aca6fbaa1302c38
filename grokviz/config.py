"""Typed settings of every stage, validated on construction, saved with each run as provenance.

Each dataclass is frozen, checks itself in `__post_init__` (raising `InputError` that names the
field), and turns into a JSON-safe dict with `to_dict()`. The CLI maps its flags onto these.
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
    """Which tokens' router distributions are averaged into a sample's distribution."""

    ALL = "all"  # every non-padding token (METHOD.md 2)
    COMPLETION = "completion"  # only tokens after the sample's prompt (the loss tokens)


def check_run_name(name: str) -> str:
    """Return `name` if it is a safe run name (letters, digits, `_.-`), else raise.

    >>> check_run_name("olmoe-math_1")
    'olmoe-math_1'
    """
    if not RUN_NAME.match(name or ""):
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


def settings_hash(settings: dict[str, Any]) -> str:
    """A short stable hash of a JSON-safe settings dict (key order does not matter).

    >>> settings_hash({"b": 1, "a": 2}) == settings_hash({"a": 2, "b": 1})
    True
    """
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class ExtractConfig:
    """Settings of one `grokviz extract` call; saved in the run's provenance."""

    run: str
    model: str
    samples: str
    revisions: tuple[str, ...] = ()
    steps: tuple[int, ...] = ()
    tokenizer: str | None = None
    device: Device = Device.AUTO
    dtype: str | None = None  # None: bf16 on CUDA, fp32 on CPU
    max_length: int = 2048
    token_budget: int = 16384
    token_routes: int | None = 8  # per group, first N samples; None = all
    route_span: RouteSpan = RouteSpan.ALL
    shard: tuple[int, int] = (0, 1)
    part_size: int = 256
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        check_run_name(self.run)
        object.__setattr__(self, "device", Device(self.device))
        object.__setattr__(self, "route_span", RouteSpan(self.route_span))
        for name in ("max_length", "token_budget", "part_size"):
            _positive(getattr(self, name), name)
        if self.token_routes is not None and self.token_routes < 0:
            raise InputError("must be >= 0 or 'all'", field="token_routes")
        index, count = self.shard
        if not (count >= 1 and 0 <= index < count):
            raise InputError(f"shard must be i/n with 0 <= i < n, got {index}/{count}", field="shard")
        if self.revisions and self.steps:
            raise InputError("give either revisions or steps, not both", field="revisions")
        if self.dtype not in (None, "float32", "bfloat16", "float16"):
            raise InputError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}",
                             field="dtype")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe provenance record."""
        return to_jsonable(self)
