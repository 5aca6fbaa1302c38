"""Who is writing to a store right now: a demo build's status, extractions, analyses, a monitor.

A demo build records its stage in `runs/RUN/build.json` (stage, progress, start, last update,
error, process id; `write_status`). Other writers leave traces the store already has: an
extraction's `shard-*.partial` folders, an analysis' `HASH.partial-*` folder, the monitor's
newest part file. `activity(store)` reports all of them, with a writer counted as live when its
process exists (build) or its trace changed within `RECENT` seconds (and after a finished
build's last update: a build's own traces are not a writer); the dashboard refreshes
itself while anything is live. Reads files only; never locks.
"""

from __future__ import annotations

import os
import time
from typing import Any

from grokviz.store.layout import Store, atomic_write_json, read_json

RECENT = 90.0  # seconds: a trace touched this recently counts as a live writer
STATUS = "build.json"


def write_status(store: Store, run: str, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the run's build status (stage, done, total, error, ...), stamped now."""
    path = store.run_dir(run) / STATUS
    status = read_json(path) if path.exists() else {"started": time.time()}
    status |= fields | {"updated": time.time(), "pid": os.getpid()}
    atomic_write_json(path, status)
    return status


def read_status(store: Store, run: str) -> dict[str, Any] | None:
    """The run's build status, or None when it has none."""
    path = store.run_dir(run) / STATUS
    return read_json(path) if path.exists() else None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _touched(paths, now: float, since: float = 0.0) -> bool:
    """Whether any of `paths` (or a file directly in it) changed within RECENT seconds, after `since`."""
    for path in paths:
        try:
            stamps = [path.stat().st_mtime] + [p.stat().st_mtime for p in path.iterdir()] if path.is_dir() \
                else [path.stat().st_mtime]
        except OSError:  # it vanished while we looked: a writer just finished with it
            return True
        if now - max(stamps) < RECENT and max(stamps) > since:
            return True
    return False


def activity(store: Store) -> dict[str, Any]:
    """Live writers per run: {"builds": {run: status}, "writing": [run, ...], "live": bool}."""
    now, builds, writing = time.time(), {}, []
    for run_dir in sorted((store.root / "runs").glob("*")) if (store.root / "runs").exists() else []:
        run = run_dir.name
        status = read_status(store, run) if (run_dir / STATUS).exists() else None
        if status and status.get("stage") not in ("done", "failed") and _alive(status.get("pid")):
            builds[run] = status
        elif status and status.get("stage") == "failed":
            builds[run] = status
        traces = list((run_dir / "checkpoints").glob("step=*/shard-*.partial")) + \
            list((run_dir / "analysis").glob("*.partial-*")) + [run_dir / "tables" / "monitor"]
        finished = status["updated"] if status and status.get("stage") == "done" else 0.0  # the build's own traces
        if _touched([p for p in traces if p.exists()], now, finished):
            writing.append(run)
    live = any(s.get("stage") not in ("done", "failed") for s in builds.values()) or bool(writing)
    return {"builds": builds, "writing": writing, "live": live}


def progress_line(status: dict[str, Any], now: float | None = None) -> str:
    """One line for a build: stage, progress, time left (from the stage's rate so far).

    >>> progress_line({"stage": "train", "done": 300, "total": 1500, "stage_started": 0.0}, now=60.0)
    'building the demo: training, step 300 of 1,500 (20%), about 4 min left'
    """
    now = time.time() if now is None else now
    stage = {"train": "training", "extract": "extracting routing", "analyze": "analysing"}.get(status.get("stage"),
                                                                                              status.get("stage", ""))
    done, total = status.get("done"), status.get("total")
    text = f"building the demo: {stage}"
    if done is not None and total:
        text += f", {'step' if status.get('stage') == 'train' else 'checkpoint'} {done:,} of {total:,} ({done / total:.0%})"
        elapsed = now - status.get("stage_started", now)
        if done and elapsed > 0:
            left = elapsed / done * (total - done)
            text += f", about {left / 60:.0f} min left" if left >= 60 else f", about {left:.0f} s left"
    return text
