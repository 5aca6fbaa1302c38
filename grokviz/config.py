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


@dataclasses.dataclass(frozen=True)
class AnalyzeConfig:
    """Settings of `grokviz analyze` (METHOD.md options); their hash keys the cached result."""

    run: str
    tau: float | None = 0.7
    top_k: int | None = None
    distance: str = "char"  # "char" (paper) or "expert"
    eps: str | float = "auto"
    delta: float = 0.05
    max_pairs: int | None = 50_000
    accuracy_window: str = "auto"  # "auto" or "A:B" (steps)
    seed: int = 0
    pairing: bool = True  # sentence-embedding pairing of Pretrain@p with Test@q
    projection: bool = True  # AlignedUMAP maps for the dashboard
    projection_samples: int = 2000
    projection_steps: int = 12

    def __post_init__(self) -> None:
        check_run_name(self.run)
        if (self.tau is None) == (self.top_k is None):
            raise InputError("give exactly one of tau and top_k", field="tau")
        if self.tau is not None and not 0 < self.tau <= 1:
            raise InputError(f"tau must be in (0, 1], got {self.tau}", field="tau")
        if self.top_k is not None:
            _positive(self.top_k, "top_k")
        if self.distance not in ("char", "expert"):
            raise InputError(f"distance must be char or expert, got {self.distance!r}", field="distance")
        if self.eps != "auto":
            try:
                object.__setattr__(self, "eps", float(self.eps))
            except ValueError:
                raise InputError(f"eps must be 'auto' or a number, got {self.eps!r}", field="eps") from None
            _positive(self.eps, "eps")
        _positive(self.delta, "delta")
        if self.max_pairs is not None:
            _positive(self.max_pairs, "max_pairs")
        self.window()

    def window(self) -> str | tuple[int, int]:
        """The accuracy window as `correlate` takes it: "auto" or (start, stop) steps."""
        if self.accuracy_window == "auto":
            return "auto"
        try:
            start, stop = (int(part) for part in self.accuracy_window.split(":"))
        except ValueError:
            raise InputError(f"accuracy window must be 'auto' or A:B, got {self.accuracy_window!r}",
                             field="accuracy_window") from None
        return start, stop

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)
