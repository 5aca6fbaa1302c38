"""The demo's algorithmic tasks: definitions, equations, train/held-out splits, tokens.

This module owns what the embedded demo learns: a few modular-arithmetic tasks ("add 12 7 = 19"),
every equation of each task generated deterministically for a seed, each task's own split into
training and held-out equations, the shared vocabulary (task tokens, numbers, "="), the
word-level tokenizer built from it, and the encoding of equations into tensors.
It must not build or train a model (that is `grokviz.demo.train`) nor write any file.
Start at `DEFAULT_TASKS`, `generate_equations` and `encode_equations`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from grokviz.names import Split

if TYPE_CHECKING:
    import torch

EQUALS = "="

# Formulas by name: the only arithmetic a task may use (no eval of user strings).
FORMULAS: dict[str, Callable[[int, int], int]] = {
    "a+b": lambda a, b: a + b,
    "a-b": lambda a, b: a - b,
    "a*b": lambda a, b: a * b,
    "a*a+b": lambda a, b: a * a + b,
    "a*b+a": lambda a, b: a * b + a,
    "a*a+b*b": lambda a, b: a * a + b * b,
    "a*a-b": lambda a, b: a * a - b,
    "a*a+a*b+b*b": lambda a, b: a * a + a * b + b * b,
    "a*b+a+b": lambda a, b: a * b + a + b,
    "a^3+b^3": lambda a, b: a**3 + b**3,
    "a^4+b^4": lambda a, b: a**4 + b**4,
    "a^5+b^5": lambda a, b: a**5 + b**5,
    "a^6+b^6": lambda a, b: a**6 + b**6,
}


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task: `answer = formula(a, b) mod modulus` for all a, b in [0, modulus).

    `train_fraction` of the modulus**2 equations are for training, the rest are held out.

    >>> TaskSpec("add", "a+b", 53, 0.5).answer(50, 7)
    4
    """

    name: str
    formula: str
    modulus: int
    train_fraction: float

    def __post_init__(self) -> None:
        if not self.name or any(ch.isspace() for ch in self.name) or self.name.isdigit():
            raise ValueError(f"task name must be one non-numeric word, got {self.name!r}")
        if self.formula not in FORMULAS:
            raise ValueError(f"unknown formula {self.formula!r}; choose one of {sorted(FORMULAS)}")
        if self.modulus < 2:
            raise ValueError(f"modulus must be >= 2, got {self.modulus}")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"train_fraction must be in (0, 1), got {self.train_fraction}")

    def answer(self, a: int, b: int) -> int:
        """The correct answer of `name a b =`."""
        return FORMULAS[self.formula](a, b) % self.modulus

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict of the fields."""
        return dataclasses.asdict(self)


# Same modulus, shared number tokens; power sums a^k + b^k mod 43 of falling k. a^k takes
# 42 / gcd(k, 42) + 1 values (k = 6: 8, k = 3: 15, k = 2: 22), so the larger k, the fewer
# classes of numbers the model must discover and the sooner a task generalises; the train
# fractions widen the gaps. Why not a+b, a*b: EXPERIMENTS.md (several of those at once never
# left their memorisation plateau within the CPU budget).
DEFAULT_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("pow6", "a^6+b^6", 43, 0.2),
    TaskSpec("pow3", "a^3+b^3", 43, 0.35),
    TaskSpec("pow2", "a*a+b*b", 43, 0.35),
)


@dataclasses.dataclass(frozen=True)
class Equation:
    """One equation of one task; `group` is the task name, `split` train or test."""

    sample_id: str
    task: str
    a: int
    b: int
    answer: int
    split: str

    @property
    def prompt(self) -> str:
        """The text the model sees before its answer, e.g. "add 12 7 =". """
        return f"{self.task} {self.a} {self.b} {EQUALS}"

    @property
    def text(self) -> str:
        """The full equation, e.g. "add 12 7 = 19"."""
        return f"{self.prompt} {self.answer}"

    @property
    def group(self) -> str:
        """The data group of the sample: its task."""
        return self.task


def validate_tasks(tasks: Sequence[TaskSpec]) -> None:
    """Raise ValueError unless `tasks` is non-empty with unique names that are not vocabulary words."""
    if not tasks:
        raise ValueError("at least one task is needed")
    names = [task.name for task in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    if EQUALS in names:
        raise ValueError(f"{EQUALS!r} is reserved and cannot name a task")


def task_equations(task: TaskSpec, seed: int) -> list[Equation]:
    """All modulus**2 equations of `task` in (a, b) order; round(train_fraction * n) of them,
    drawn in a seeded shuffle of ordered pairs, are marked train and the rest test.

    Ordered pairs, as in the grokking literature: for a commutative task a held-out "a b" may
    have its mirror "b a" in training (EXPERIMENTS.md: splitting by unordered pair instead kept
    held-out accuracy at chance for 2,000+ steps).
    """
    pairs = [(a, b) for a in range(task.modulus) for b in range(task.modulus)]
    order = list(range(len(pairs)))
    random.Random(f"{seed}:{task.name}").shuffle(order)
    n_train = max(1, min(len(pairs) - 1, round(task.train_fraction * len(pairs))))
    train_idx = set(order[:n_train])
    return [
        Equation(
            sample_id=f"{task.name}-{a}-{b}",
            task=task.name,
            a=a,
            b=b,
            answer=task.answer(a, b),
            split=Split.TRAIN.value if i in train_idx else Split.TEST.value,
        )
        for i, (a, b) in enumerate(pairs)
    ]


def generate_equations(tasks: Sequence[TaskSpec], seed: int) -> list[Equation]:
    """Every equation of every task, task by task; the same list for the same seed.

    >>> eqs = generate_equations([TaskSpec("add", "a+b", 5, 0.4)], seed=0)
    >>> len(eqs), eqs[7].text, sum(e.split == "train" for e in eqs)
    (25, 'add 1 2 = 3', 10)
    """
    validate_tasks(tasks)
    return [eq for task in tasks for eq in task_equations(task, seed)]


def vocabulary(tasks: Sequence[TaskSpec]) -> list[str]:
    """The words of the demo: task tokens, then numbers 0 .. max modulus - 1, then "="."""
    validate_tasks(tasks)
    numbers = [str(n) for n in range(max(task.modulus for task in tasks))]
    return [*(task.name for task in tasks), *numbers, EQUALS]


def build_demo_tokenizer(tasks: Sequence[TaskSpec]):
    """The word-level tokenizer over `vocabulary(tasks)`; `<pad>` is id 0.

    >>> tok = build_demo_tokenizer([TaskSpec("add", "a+b", 5, 0.4)])
    >>> tok.convert_ids_to_tokens(tok("add 1 2 = 3")["input_ids"])
    ['add', '1', '2', '=', '3']
    """
    from grokviz.synthetic.wordlevel import build_tokenizer

    return build_tokenizer(vocabulary(tasks))


def number_token_ids(tokenizer, tasks: Sequence[TaskSpec]) -> list[int]:
    """Token ids of the numbers 0 .. max modulus - 1, in numeric order."""
    numbers = [str(n) for n in range(max(task.modulus for task in tasks))]
    return tokenizer.convert_tokens_to_ids(numbers)


@dataclasses.dataclass(frozen=True)
class EncodedEquations:
    """Equations as tensors, row i = equations[i].

    `input_ids[:, answer_pos]` is the answer token; the model predicts it from the logits at
    `answer_pos - 1` (the "=" token). All equations have the same length: no padding.
    """

    input_ids: torch.Tensor  # shape: (n, seq) int64
    answer_pos: int
    task_index: torch.Tensor  # shape: (n,) int64, index into the task list
    is_train: torch.Tensor  # shape: (n,) bool

    @property
    def answers(self) -> torch.Tensor:
        """The answer token ids. # shape: (n,)"""
        return self.input_ids[:, self.answer_pos]


def encode_equations(equations: Sequence[Equation], tokenizer, tasks: Sequence[TaskSpec]) -> EncodedEquations:
    """Tokenise every equation's text; raises ValueError if any word is unknown or lengths differ."""
    import torch

    ids = tokenizer([eq.text for eq in equations], add_special_tokens=False)["input_ids"]
    if len({len(row) for row in ids}) != 1:
        raise ValueError("all equations must tokenise to the same length")
    if any(tokenizer.unk_token_id in row for row in ids):
        raise ValueError("an equation contains a word outside the vocabulary")
    task_of = {task.name: i for i, task in enumerate(tasks)}
    return EncodedEquations(
        input_ids=torch.tensor(ids, dtype=torch.long),  # shape: (n, 5)
        answer_pos=len(ids[0]) - 1,
        task_index=torch.tensor([task_of[eq.task] for eq in equations], dtype=torch.long),
        is_train=torch.tensor([eq.split == Split.TRAIN.value for eq in equations], dtype=torch.bool),
    )
