"""Run a model-written program against its tests in a separate process, sandboxed.

HumanEval(+)-style: the program (prompt + completion + tests + `check(entry_point)`) runs in a
fresh Python process, in an empty temporary folder, with a minimal environment (no proxies,
no tokens, HOME and TMPDIR in that folder), in its own process group that is killed when the
time limit passes, under an address-space limit and a process-count limit. Two modes
(`--sandbox`):

- `bwrap` (bubblewrap; the kernel enforces it): the whole filesystem read-only, temporary
  folders and homes hidden, only the program's folder writable, no network, its own PID
  namespace (a fork bomb dies with it), as uid 65534 when started as root. It does not stop
  reading what the filesystem shows (system files, the store, other projects) or burning CPU
  until the time limit.
- `guard` (where bubblewrap is missing or cannot start): HumanEval's approach, a Python-level
  guard in the program's `sitecustomize` (sandbox_site.py) that refuses destructive os/shutil/
  subprocess calls, writes outside the folder and sockets, plus `unshare -n` where allowed. It
  stops accidents; a determined program can undo it, and it does not stop reading files.

`auto` picks bwrap when it works here, else guard with a one-line warning. Which launcher
works is probed once per process (sandbox_launch.py). Nothing here knows about models or the
store. Code evaluation stays off unless asked for (`--allow-code-execution`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grokviz.errors import GrokvizError
from grokviz.evaluate.sandbox_launch import (
                                             Launcher,
                                             bwrap_launcher,
                                             can_unshare_network,
                                             guard_launcher,
                                             program_env,
)
from grokviz.evaluate.sandbox_site import site_source

SANDBOX_MODES = ("auto", "bwrap", "guard")
EXTRA_PROCESSES = 32  # processes (threads included) a program may start beyond its user's count
__all__ = ["SANDBOX_MODES", "Outcome", "SandboxChoice", "SandboxUnavailable", "can_unshare_network",
           "check_program", "resolve_sandbox", "run_program"]


class SandboxUnavailable(GrokvizError):
    """`--sandbox bwrap` was asked for and bubblewrap cannot run here (the message says why)."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one program ended: `passed`, `failed` (non-zero exit) or `timeout`."""

    status: str
    output: str  # the last characters of stdout and stderr
    seconds: float
    sandbox: str = ""  # the mode it ran in: bwrap or guard

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclasses.dataclass(frozen=True)
class SandboxChoice:
    """The mode that runs (`bwrap` or `guard`), how, and the warning when `auto` fell back."""

    mode: str
    detail: str
    warning: str | None = None


def resolve_sandbox(requested: str = "auto") -> SandboxChoice:
    """The mode `requested` (auto, bwrap, guard) means here; `bwrap` where it cannot run raises
    SandboxUnavailable with the reason."""
    if requested not in SANDBOX_MODES:
        raise ValueError(f"sandbox must be one of {', '.join(SANDBOX_MODES)}, got {requested!r}")
    if requested == "guard":
        return SandboxChoice("guard", guard_launcher().detail)
    launcher, reason = bwrap_launcher()
    if launcher is not None:
        return SandboxChoice("bwrap", launcher.detail)
    if requested == "bwrap":
        raise SandboxUnavailable(f"--sandbox bwrap: {reason}")
    return SandboxChoice("guard", guard_launcher().detail,
                         f"{reason}; code items run in guard mode, a Python-level guard that a "
                         "determined program can undo")


def check_program(prompt: str, completion: str, tests: str, entry_point: str) -> str:
    """The program that decides a code item: the function, its tests, and the call of
    `check(entry_point)` when the tests define `check` (HumanEval's convention).

    >>> print(check_program("def f():\\n", "    return 1", "def check(c):\\n    assert c() == 1", "f"))
    def f():
        return 1
    <BLANKLINE>
    def check(c):
        assert c() == 1
    <BLANKLINE>
    check(f)
    <BLANKLINE>
    """
    program = f"{prompt}{completion}\n\n{tests}\n"
    if re.search(r"^def check\(", tests, re.MULTILINE):
        program += f"\ncheck({entry_point})\n"
    return program


def run_program(source: str, timeout: float, *, sandbox: str = "auto", memory_mb: int = 2048) -> Outcome:
    """Run `source` with this Python in the `sandbox` mode (auto, bwrap, guard; see the module)."""
    mode = resolve_sandbox(sandbox).mode
    launcher = launcher_for(mode)
    with tempfile.TemporaryDirectory(prefix="grokviz-sandbox-") as name:
        folder = Path(name).resolve()
        (folder / "sitecustomize.py").write_text(
            site_source(str(folder), memory_mb * 2**20, EXTRA_PROCESSES, guard=mode == "guard"))
        (folder / "program.py").write_text(source)
        if launcher.owner is not None:
            os.chown(folder, launcher.owner, launcher.owner)
        outcome = _run([*launcher.command(folder), sys.executable, "-s", "program.py"], folder, timeout)
        return dataclasses.replace(outcome, sandbox=mode)


def launcher_for(mode: str) -> Launcher:
    """The launcher of a resolved mode (`bwrap` or `guard`)."""
    launcher = bwrap_launcher()[0] if mode == "bwrap" else guard_launcher()
    if launcher is None:
        raise SandboxUnavailable(bwrap_launcher()[1])
    return launcher


def _run(command: list[str], folder: Path, timeout: float) -> Outcome:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, env=program_env(folder), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        status = "passed" if process.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        _kill_group(process)
        try:
            output, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # something outside the group holds the output open
            process.kill()
            output = b"(output lost: a process left the program's process group)"
        status = "timeout"
    text = output.decode("utf-8", errors="replace")[-2000:]
    return Outcome(status, text, time.perf_counter() - started)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the program and everything it started (it leads its own process group; under
    bwrap, the sandbox's PID namespace dies with it)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
