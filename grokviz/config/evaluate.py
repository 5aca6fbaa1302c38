"""Settings of the accuracy stages: `evaluate`, `contamination` and `import-accuracy`."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from grokviz.config.base import Device, _positive, check_run_name, to_jsonable
from grokviz.errors import InputError


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


class SandboxMode(str, enum.Enum):
    """How code items are isolated (grokviz.evaluate.sandbox says what each protects against)."""

    AUTO = "auto"  # bwrap where it works here, else guard with a warning
    BWRAP = "bwrap"  # bubblewrap: read-only filesystem, no network, own PID namespace (kernel)
    GUARD = "guard"  # a Python-level guard (HumanEval style) that a determined program can undo


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
    sandbox: SandboxMode = SandboxMode.AUTO  # asked for; the call records which ran (sandbox_used)
    runtime: ModelRuntime = ModelRuntime()

    def __post_init__(self) -> None:
        check_run_name(self.run)
        object.__setattr__(self, "kind", EvalKind(self.kind))
        object.__setattr__(self, "norm", ChoiceNorm(self.norm))
        try:
            object.__setattr__(self, "sandbox", SandboxMode(self.sandbox))
        except ValueError:
            raise InputError(f"sandbox must be auto, bwrap or guard, got {self.sandbox!r}",
                             field="sandbox") from None
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
