"""Find a run's checkpoint series: local `save_pretrained` folders or hub revisions.

A checkpoint is a step (plus optional tokens seen and hub revision) and where to load it.
Local: a folder of checkpoint folders named `stepN...` or `checkpoint-N` (the Trainer's
naming), or holding `trainer_state.json`; or one model folder. Hub: branch names like
`step5000-tokens20B` are parsed; `list_hub_checkpoints` asks the hub (the only network call,
made only when the user names a hub id). Selection ("10 evenly spaced") is pure.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path

from grokviz.errors import ModelError

STEP_NAME = re.compile(r"(?:^|[^a-z])(?:step|checkpoint)[-_]?(\d+)", re.IGNORECASE)
TOKENS_NAME = re.compile(r"tokens(\d+(?:\.\d+)?)([KMBT]?)", re.IGNORECASE)
SCALE = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


@dataclasses.dataclass(frozen=True, order=True)
class Checkpoint:
    """One checkpoint of a series; ordered by step."""

    step: int
    tokens: int | None = None
    revision: str | None = None
    path: str = ""


def parse_name(name: str) -> tuple[int | None, int | None]:
    """Step and tokens from a folder or branch name; None where absent.

    >>> parse_name("step5000-tokens20B")
    (5000, 20000000000)
    >>> parse_name("checkpoint-1500")
    (1500, None)
    >>> parse_name("main")
    (None, None)
    """
    step = STEP_NAME.search(name)
    tokens = TOKENS_NAME.search(name)
    token_count = None
    if tokens:
        token_count = int(float(tokens.group(1)) * SCALE[tokens.group(2).upper()])
    return (int(step.group(1)) if step else None), token_count


def _step_from_state(folder: Path) -> int | None:
    state = folder / "trainer_state.json"
    if not state.is_file():
        return None
    try:
        return int(json.loads(state.read_text())["global_step"])
    except (ValueError, KeyError, TypeError):
        raise ModelError(f"{state}: unreadable or without 'global_step'") from None


def _local_checkpoint(folder: Path) -> Checkpoint:
    step, tokens = parse_name(folder.name)
    state_step = _step_from_state(folder)
    step = state_step if state_step is not None else step
    if step is None:
        raise ModelError(f"{folder}: cannot tell the step; name the folder stepN or add "
                         "trainer_state.json with global_step")
    return Checkpoint(step=step, tokens=tokens, path=str(folder))


def discover_local(root: str | Path) -> list[Checkpoint]:
    """Checkpoints under `root` (a series folder or one model folder), sorted by step."""
    root = Path(root)
    if not root.is_dir():
        raise ModelError(f"{root}: checkpoint folder not found")
    if (root / "config.json").is_file():
        single = _local_checkpoint(root) if parse_name(root.name)[0] is not None or \
            (root / "trainer_state.json").is_file() else Checkpoint(step=0, path=str(root))
        return [single]
    found = [_local_checkpoint(sub) for sub in sorted(root.iterdir())
             if sub.is_dir() and (parse_name(sub.name)[0] is not None or (sub / "config.json").exists())]
    if not found:
        raise ModelError(f"{root}: no checkpoint folders (expected stepN/ or checkpoint-N/ "
                         "subfolders with config.json)")
    steps = [c.step for c in found]
    if len(set(steps)) != len(steps):
        raise ModelError(f"{root}: two checkpoint folders share a step: {sorted(steps)}")
    return sorted(found)


def from_revisions(model: str, revisions: Sequence[str]) -> list[Checkpoint]:
    """Hub checkpoints from branch names; the step comes from each name."""
    found = []
    for revision in revisions:
        step, tokens = parse_name(revision)
        if step is None:
            raise ModelError(f"revision {revision!r}: no step in its name (expected stepN...)")
        found.append(Checkpoint(step=step, tokens=tokens, revision=revision, path=model))
    return sorted(found)


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_hub_id(name: str) -> bool:
    """`owner/name` with no other slashes, not a relative or absolute path.

    >>> looks_like_hub_id("allenai/OLMoE-1B-7B-0924"), looks_like_hub_id("./runs/olmoe")
    (True, False)
    """
    return bool(HUB_ID.match(name)) and not name.startswith(".")


def list_hub_checkpoints(model: str) -> list[Checkpoint]:
    """All `stepN...` branches of a hub repository (needs network)."""
    from huggingface_hub import list_repo_refs

    try:
        branches = [ref.name for ref in list_repo_refs(model).branches]
    except Exception as err:  # offline, unknown repository, no access
        raise ModelError(f"{model}: cannot list hub branches ({type(err).__name__}); is it a "
                         "local folder that does not exist?") from None
    return from_revisions(model, [b for b in branches if parse_name(b)[0] is not None])


def select_evenly(series: Sequence[Checkpoint], count: int) -> list[Checkpoint]:
    """`count` checkpoints evenly spaced by position, always the first and the last.

    >>> [c.step for c in select_evenly([Checkpoint(s) for s in range(0, 100, 10)], 4)]
    [0, 30, 60, 90]
    """
    ordered = sorted(series)
    if count <= 0:
        raise ModelError(f"cannot select {count} checkpoints")
    if count >= len(ordered):
        return ordered
    if count == 1:
        return [ordered[-1]]
    picks = sorted({round(i * (len(ordered) - 1) / (count - 1)) for i in range(count)})
    return [ordered[i] for i in picks]


def select_steps(series: Sequence[Checkpoint], steps: Sequence[int]) -> list[Checkpoint]:
    """The checkpoints at exactly `steps`; an error lists the steps that do not exist."""
    by_step = {c.step: c for c in series}
    missing = [s for s in steps if s not in by_step]
    if missing:
        raise ModelError(f"no checkpoint at steps {missing}; available: {sorted(by_step)}")
    return sorted(by_step[s] for s in steps)
