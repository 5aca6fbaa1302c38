"""Writer locks: how a writer says "I am still here", so `grokviz doctor --fix` never removes
what a live process is writing.

Three things a writer may leave behind if it is killed, and the lock that marks each as live:

    .NAME.UUID.tmp                 an atomic write's temporary file: its writer holds an
                                   exclusive `flock` on the file itself from creation to rename
    shard-I-of-K.partial/.lock     an extraction writing that shard (held from its first write
                                   into the step until the shard is published)
    HASH.partial-XXXX/.lock        an `analyze` writing that analysis (held until it is published)

Readers never lock. A writer holds its lock on an open file, so the kernel releases it when the
process dies, however it dies (SIGKILL included): a lock that can be taken belongs to nobody.
`probe` takes a lock without waiting and reports whether it was free. The `.lock` files hold the
writer's pid and host for messages; a writer removes its `.lock` just before it publishes the
folder. Between creating a file or folder and locking it there is a moment without a lock, so
`doctor` also leaves anything changed in the last `GRACE_S` seconds alone.

POSIX only (`fcntl`); elsewhere nothing is locked and `probe` answers "unknown". On NFS, Linux
emulates `flock` with byte-range locks, which is why lock files are opened for writing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

from grokviz.errors import StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"  # the lock file inside a `.partial` folder being written
GRACE_S = 60.0  # doctor leaves anything changed more recently alone (the moment before a lock)
WAIT_S = 5.0  # a writer waits this long for a folder lock before it calls the folder taken
State = Literal["held", "free", "missing", "unknown"]


def hold(handle: IO) -> None:
    """Lock a file this process just created, exclusively and for as long as it is open."""
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX)


@contextlib.contextmanager
def folder_lock(folder: Path, what: str) -> Iterator[Path]:
    """Create `folder` if needed and hold `folder/.lock` for the block; yields the lock path.

    A folder another live process is writing is a `StoreError` naming it, after `WAIT_S` (a
    `doctor` probing the lock holds it for milliseconds; another writer, for as long as it writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    with open(path, "a") as handle:
        deadline = time.monotonic() + WAIT_S
        while fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"{folder}: {what} is being written by another process "
                                     f"({holder(path) or 'it holds ' + str(path)}); wait for it to finish, "
                                     "or give this process another --shard") from None
                time.sleep(0.05)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield path


def holder(path: Path) -> str:
    """Who wrote a `.lock` file ("pid N on HOST"), or "" when it cannot be read."""
    try:
        return path.read_text(errors="replace").strip()[:200]
    except OSError:
        return ""


@contextlib.contextmanager
def probe(path: Path) -> Iterator[State]:
    """Try to lock an existing file without waiting and without creating it.

    Yields "held" (a live writer has it), "free" (nobody had it: this process holds it until
    the block ends, so a writer cannot take it meanwhile), "missing" (no such file) or "unknown"
    (locks are not available here)."""
    if fcntl is None:  # pragma: no cover - not POSIX
        yield "missing" if not path.exists() else "unknown"
        return
    try:
        try:
            fd = os.open(path, os.O_WRONLY)
        except PermissionError:  # a read-only store: a shared-open lock still answers locally
            fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        yield "missing"
        return
    except OSError:
        yield "unknown"
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield "held"
            return
        except OSError:
            yield "unknown"
            return
        yield "free"
    finally:
        os.close(fd)


def newest_change(path: Path) -> float:
    """The latest modification time of `path` and, for a folder, of everything in it (0 if gone)."""
    try:
        newest = path.stat().st_mtime
    except OSError:
        return 0.0
    if path.is_dir():
        try:
            for child in path.rglob("*"):
                with contextlib.suppress(OSError):
                    newest = max(newest, child.stat().st_mtime)
        except OSError:  # the folder went while we walked it (its writer published or removed it)
            return newest if path.exists() else 0.0
    return newest
