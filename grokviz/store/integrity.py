"""Checkpoint integrity: is a run's series of checkpoints what its step names say?

Public series have shipped two revisions with identical weights, and a revision under the wrong
step name; an analysis over such a series shows a flat or reversed segment that looks like a
finding. Two rules, both on what the store already holds:

Identical weights. Extraction records a fingerprint per step in `checkpoint.parquet`
(`weights:...`, see `grokviz.extract.fingerprint`: every tensor's name, dtype, shape and the
first and last 4 KiB of its stored bytes). Steps without one (stores written before it, or
checkpoints without safetensors files) use `router_fingerprint`, a hash of the stored router
weights (`router:...`). Two steps of a run with the same fingerprint are reported.

Jumps. d_i = ||W_i - W_{i-1}||_F / ||W_{i-1}||_F is the relative Frobenius distance between the
router weights (all MoE layers together, as stored in float16) of consecutive checkpoints, and
r_i = d_i / (step_i - step_{i-1}) its rate per training step (checkpoints are often denser early
on; this keeps a change of spacing from looking like a jump). The move into step_i is a jump when

    d_i >= MIN_DISTANCE  and  r_i > JUMP_FACTOR * median(r_j of its neighbours),

the neighbours being the moves up to NEIGHBOURS_PER_SIDE places away on each side that are at
least MIN_DISTANCE (smaller ones, identical checkpoints above all, are no yardstick), at least one
on each side and at least MIN_NEIGHBOURS in all. So the first and last moves are never judged, and a run needs 5
checkpoints for any move to be. Where the moves into and out of step_i are both jumps and its
neighbours are closer to each other than to it, step_i is reported once, as out of line (a
checkpoint from elsewhere in the run, or another run, under that step name). What this does not
catch: a swap of two neighbouring checkpoints (their distances look ordinary), and a move
right after a stretch of checkpoints spaced 9x or more closer (the rate of a noisy walk falls
like 1/sqrt(spacing)). `find_jumps` is the pure rule; `check_series` applies both to a run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from grokviz.errors import StoreError
from grokviz.store import shards
from grokviz.store.findings import Finding
from grokviz.store.layout import Store, read_parquet

JUMP_FACTOR = 3.0  # a move this many times the neighbours' median rate is a jump
NEIGHBOURS_PER_SIDE = 2
MIN_NEIGHBOURS = 3
MIN_DISTANCE = 1e-3  # relative; float16 storage alone moves a matrix by up to ~3e-4


def router_fingerprint(table: pa.Table) -> str:
    """A hash of stored router weights (a `router.parquet` table): layer, shape and bytes."""
    digest = hashlib.sha256()
    for row in sorted(table.to_pylist(), key=lambda r: r["layer"]):
        digest.update(f"{row['layer']}:{row['n_experts']}x{row['d_model']};".encode())
        digest.update(row["weight"])
    return "router:" + digest.hexdigest()


def relative_distance(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> float:
    """||after - before||_F / ||before||_F over all layers together; NaN when shapes differ.

    >>> relative_distance([np.ones((2, 2))], [np.full((2, 2), 1.5)])
    0.5
    """
    if len(before) != len(after) or any(a.shape != b.shape for a, b in zip(before, after)):
        return float("nan")
    change = sum(float(np.sum((b.astype(np.float64) - a) ** 2)) for a, b in zip(before, after))
    norm = sum(float(np.sum(a.astype(np.float64) ** 2)) for a in before)
    return float(np.sqrt(change / norm)) if norm > 0 else (0.0 if change == 0 else float("inf"))


@dataclasses.dataclass(frozen=True)
class Jump:
    """A move against the trend: into `step` from `previous` (distance `distance`, rate per
    step `rate`, `typical` = the neighbours' median rate). `off_line`: the move out of `step`
    (to `following`, distance `back`) is a jump too and its neighbours are `skip` apart."""

    step: int
    previous: int
    distance: float
    rate: float
    typical: float
    off_line: bool = False
    following: int | None = None
    back: float | None = None
    skip: float | None = None


def find_jumps(steps: Sequence[int], distances: Sequence[float],
               skips: Sequence[float] | None = None) -> list[Jump]:
    """The rule of the module docstring. `distances[k]` is the distance from `steps[k]` to
    `steps[k + 1]`; `skips[k]` (optional) the distance from `steps[k]` to `steps[k + 2]`.

    >>> steps = [0, 10, 20, 30, 40, 50, 60]
    >>> [(j.step, j.off_line) for j in find_jumps(steps, [.1, .1, .1, .9, .9, .1], [.2, .2, .9, .1, .9])]
    [(40, True)]
    >>> find_jumps([], [])
    []
    """
    steps = [int(s) for s in steps]
    d = np.asarray(distances, dtype=float)
    if not steps and not len(d):  # a run with no checkpoint yet
        return []
    if len(steps) != len(d) + 1:
        raise ValueError(f"{len(steps)} steps need {len(steps) - 1} distances, got {len(d)}")
    rate = d / np.maximum(np.diff(steps), 1)
    usable = np.isfinite(d) & (d >= MIN_DISTANCE)  # a move too small to measure is no yardstick
    judged = {}
    for k in np.flatnonzero(usable):
        left = [j for j in (k - 1, k - 2) if j >= 0 and usable[j]]
        right = [j for j in (k + 1, k + 2) if j < len(d) and usable[j]]
        if not (left and right) or len(left) + len(right) < MIN_NEIGHBOURS:
            continue
        typical = float(np.median(rate[left + right]))
        if rate[k] > JUMP_FACTOR * typical:
            judged[int(k)] = typical
    found: list[Jump] = []
    for k in sorted(judged):
        if found and found[-1].off_line and found[-1].following == steps[k + 1]:
            continue  # the move back out of an out-of-line checkpoint: reported with it
        skip = float(skips[k]) if skips is not None and k < len(skips) else None
        back = float(d[k + 1]) if k + 1 < len(d) else None
        off_line = bool(k + 1 in judged and skip is not None and back is not None
                        and skip < min(d[k], back))
        found.append(Jump(steps[k + 1], steps[k], float(d[k]), float(rate[k]), judged[k], off_line,
                          steps[k + 2] if off_line else None, back if off_line else None,
                          skip if off_line else None))
    return found


def check_series(store: Store, run: str) -> list[Finding]:
    """Identical checkpoints and jumps in a run (files that cannot be read are left to the file
    check, which names them)."""
    steps, fingerprints, described = [], {}, {}
    distances, skips, window = [], [], []
    for folder in sorted((store.run_dir(run) / "checkpoints").glob("step=*")):
        try:
            table = read_parquet(folder / "router.parquet")
        except StoreError:
            continue
        step = int(folder.name[5:])
        recorded, described[step] = _record(folder)
        fingerprints[step] = recorded or router_fingerprint(table)
        weights = shards.decode_router(table)
        if window:
            distances.append(relative_distance(window[-1], weights))
        if len(window) == 2:
            skips.append(relative_distance(window[0], weights))
        window = [*window[-1:], weights]
        steps.append(step)
    found = _identical(store, run, fingerprints, described)
    for jump in find_jumps(steps, distances, skips):
        found.append(Finding("jump", _jump_message(store, run, jump), run=run,
                             path=str(store.step_dir(run, jump.step)), step=jump.step))
    return found


def _record(folder: Path) -> tuple[str | None, str]:
    """The recorded fingerprint of a step folder (None if absent) and its revision or path."""
    try:
        row = read_parquet(folder / "checkpoint.parquet").to_pylist()[0]
    except (StoreError, IndexError):
        return None, "unrecorded"
    return row.get("fingerprint"), row.get("revision") or row.get("path") or "unrecorded"


def _identical(store: Store, run: str, fingerprints: dict[int, str], described: dict[int, str]) -> list[Finding]:
    by_print: dict[str, list[int]] = {}
    for step, fingerprint in fingerprints.items():
        by_print.setdefault(fingerprint, []).append(step)
    found = []
    for fingerprint, same in by_print.items():
        if len(same) < 2:
            continue
        what = "weights" if fingerprint.startswith("weights:") else "router weights"
        names = ", ".join(f"{s} ({described[s]})" for s in same)
        folders = " or ".join(str(store.step_dir(run, s)) for s in same[1:])
        found.append(Finding("identical", (
            f"run {run!r}: steps {names} have identical {what} (fingerprint {fingerprint[:20]}...): a copied "
            f"or mislabelled checkpoint draws a flat segment that looks like a finding; check which step each "
            f"really is, remove the wrong step's folder ({folders}) or extract the right checkpoint into it, "
            "then rerun analyze"), run=run, path=str(store.step_dir(run, same[-1])), step=same[-1]))
    return found


def _jump_message(store: Store, run: str, jump: Jump) -> str:
    head = (f"run {run!r} step {jump.step}: its router weights moved {jump.rate / max(jump.typical, 1e-300):.1f}x "
            f"the neighbouring checkpoints' rate (relative distance {jump.distance:.3g} from step {jump.previous}; "
            f"rule: > {JUMP_FACTOR:g}x the median rate per step of up to {2 * NEIGHBOURS_PER_SIDE} neighbouring moves)")
    if jump.off_line:
        return (f"{head}, and it is {jump.distance:.3g} and {jump.back:.3g} from steps {jump.previous} and "
                f"{jump.following}, which are only {jump.skip:.3g} apart: probably a checkpoint from elsewhere "
                f"in the run (or another run) under this step name; check the checkpoint behind "
                f"{store.step_dir(run, jump.step)} before trusting the curves there")
    return (f"{head}: a checkpoint from elsewhere in the run or from another run under this step name, a "
            f"restart or schedule change, or a loss spike in training; check the checkpoint behind {store.step_dir(run, jump.step)} before "
            "reading a finding into it")
