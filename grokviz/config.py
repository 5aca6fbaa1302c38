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
    max_pairs: int | None = 20_000
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


class EvalKind(str, enum.Enum):
    """How a test item is scored (METHOD.md 6): by option likelihood, exact answer, or tests."""

    CHOICE = "choice"  # multiple choice by (normalised) log-likelihood of each option
    EXACT = "exact"  # greedy generation, normalised, compared to the answer
    CODE = "code"  # generated function run against the item's tests (opt-in)


class ChoiceNorm(str, enum.Enum):
    """Which option score picks a multiple-choice answer (stored as `correct`)."""

    CHARS = "chars"  # lm-evaluation-harness acc_norm: log-likelihood / len(option) in characters
    TOKENS = "tokens"  # log-likelihood / number of option tokens
    NONE = "none"  # plain log-likelihood (lm-evaluation-harness acc)


CODE_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")  # Codex / HumanEval stop sequences
EXACT_STOPS = ("\n",)


@dataclasses.dataclass(frozen=True)
class ModelRuntime:
    """Where and how checkpoints run, shared by evaluate and contamination."""

    device: Device = Device.AUTO
    dtype: str | None = None  # None: bf16 on CUDA, fp32 on CPU
    tokenizer: str | None = None
    max_length: int = 2048
    token_budget: int = 16384
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", Device(self.device))
        _positive(self.max_length, "max_length")
        _positive(self.token_budget, "token_budget")
        if self.dtype not in (None, "float32", "bfloat16", "float16"):
            raise InputError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}",
                             field="dtype")


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """Settings of one `grokviz evaluate` call; those that change scores key its stored parts."""

    run: str
    tests: str
    kind: EvalKind = EvalKind.CHOICE
    steps: tuple[int, ...] = ()  # empty: every checkpoint of the run
    fewshot: int = 0
    fewshot_file: str | None = None
    norm: ChoiceNorm = ChoiceNorm.CHARS
    stop: tuple[str, ...] | None = None  # None: "\n" (exact) or the HumanEval stops (code)
    max_new_tokens: int = 32
    last_number: bool = False  # exact: compare the last number of prediction and answer
    allow_code_execution: bool = False
    timeout: float = 10.0  # seconds per code item
    runtime: ModelRuntime = ModelRuntime()

    def __post_init__(self) -> None:
        check_run_name(self.run)
        object.__setattr__(self, "kind", EvalKind(self.kind))
        object.__setattr__(self, "norm", ChoiceNorm(self.norm))
        if self.fewshot < 0:
            raise InputError("must be >= 0", field="fewshot")
        if self.fewshot and not self.fewshot_file:
            raise InputError("--fewshot K needs --fewshot-file", field="fewshot_file")
        if self.fewshot and self.kind == EvalKind.CODE:
            raise InputError("few-shot prompts need answers; code items have none", field="fewshot")
        if self.kind == EvalKind.CODE and not self.allow_code_execution:
            raise InputError("code items run model-written programs on this machine; pass "
                             "--allow-code-execution to allow it", field="allow_code_execution")
        _positive(self.max_new_tokens, "max_new_tokens")
        _positive(self.timeout, "timeout")

    def stops(self) -> tuple[str, ...]:
        """The stop sequences of generation for this kind."""
        if self.stop is not None:
            return self.stop
        return CODE_STOPS if self.kind == EvalKind.CODE else EXACT_STOPS

    def scoring(self) -> dict[str, Any]:
        """The settings that change an item's score (they key the stored parts)."""
        keys = {EvalKind.CHOICE: ("fewshot", "norm"),
                EvalKind.EXACT: ("fewshot", "max_new_tokens", "last_number"),
                EvalKind.CODE: ("max_new_tokens", "timeout")}[self.kind]
        out = {key: to_jsonable(getattr(self, key)) for key in keys}
        out |= {"stop": list(self.stops())} if self.kind != EvalKind.CHOICE else {}
        return out | {"kind": self.kind.value, "max_length": self.runtime.max_length}

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self) | {"command": "evaluate"}


@dataclasses.dataclass(frozen=True)
class ContaminationConfig:
    """Settings of `grokviz contamination`: Min-K%++ at one checkpoint, drop the top fraction."""

    run: str
    tests: str
    step: int
    drop: float = 0.1
    k: float = 20.0  # percent of a text's tokens (the lowest scores) averaged
    scope: str = "group"  # drop the top fraction of each group, or of all items ("all")
    runtime: ModelRuntime = ModelRuntime()

    def __post_init__(self) -> None:
        check_run_name(self.run)
        if not 0 <= self.drop < 1:
            raise InputError(f"drop must be in [0, 1), got {self.drop}", field="drop")
        if not 0 < self.k <= 100:
            raise InputError(f"k must be in (0, 100] percent, got {self.k}", field="k")
        if self.scope not in ("group", "all"):
            raise InputError(f"scope must be group or all, got {self.scope!r}", field="scope")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self) | {"command": "contamination"}


@dataclasses.dataclass(frozen=True)
class ImportConfig:
    """Settings of `grokviz import-accuracy`."""

    run: str
    file: str
    format: str = "auto"  # auto | items | tasks | lm-eval
    checkpoint_map: tuple[tuple[str, int], ...] = ()  # checkpoint name -> step
    metric: str = "auto"  # lm-eval: acc_norm, else acc, else exact_match, else pass@1
    task_groups: tuple[tuple[str, str], ...] = ()  # lm-eval task -> group (default: the task)
    tests: str | None = None  # items file: checks item ids and stores their texts
    split: str = "test"

    def __post_init__(self) -> None:
        check_run_name(self.run)
        if self.format not in ("auto", "items", "tasks", "lm-eval"):
            raise InputError(f"format must be auto, items, tasks or lm-eval, got {self.format!r}",
                             field="format")
        if self.split not in ("train", "test", "validation"):
            raise InputError(f"split must be train, test or validation, got {self.split!r}",
                             field="split")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self) | {"command": "import-accuracy"}
