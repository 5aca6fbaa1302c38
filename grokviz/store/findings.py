"""What `grokviz doctor` reports: one `Finding` per problem, each a line a person can act on.

Kinds (`KINDS`), from the files up:

    unreadable   a file the store's tables depend on cannot be read (truncated, corrupt)
    incomplete   a `shard-*.partial` or analysis `.partial-*` folder: live (being written) or not
    stale        the latest analysis was computed on other inputs than the store holds now
    orphan       a killed writer's leftover: a temporary file or an analysis `.partial-*` folder
    identical    two checkpoints of a run have the same weights
    jump         a checkpoint's router weights move against the trend of its neighbours

A finding that a live writer holds (`live`) is reported but is not a problem, and one that
`--fix` removed (`fixed`) is done; the rest are `outstanding` and make `doctor` exit with 1.
The dashboard can show the same records (`grokviz.store.doctor.diagnose`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

KINDS = ("unreadable", "incomplete", "stale", "orphan", "identical", "jump")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem: its kind, a one-line message naming the file or step and what to do."""

    kind: str
    message: str
    run: str | None = None
    path: str | None = None  # the file or folder concerned
    step: int | None = None
    live: bool = False  # a live writer holds it: normal while it writes; never removed
    fixed: bool = False  # removed by `doctor --fix`

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}; one of {KINDS}")

    @property
    def outstanding(self) -> bool:
        """Still to act on: neither being written by a live process nor fixed."""
        return not (self.live or self.fixed)

    def line(self) -> str:
        """The one line `doctor` prints.

        >>> Finding("orphan", "runs/r/.x.tmp: leftover", fixed=True).line()
        'orphan      runs/r/.x.tmp: leftover [removed]'
        """
        suffix = " [removed]" if self.fixed else " [live writer]" if self.live else ""
        return f"{self.kind:<11} {self.message}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "outstanding": self.outstanding}
