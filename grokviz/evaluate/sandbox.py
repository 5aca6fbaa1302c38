"""Run a model-written program against its tests in a separate process: time limit, no network.

HumanEval(+)-style: the program (prompt + completion + tests + `check(entry_point)`) runs in a
fresh Python process, in an empty temporary folder, with a minimal environment (no proxies,
no tokens, HOME in the temporary folder), in its own process group that is killed when the
time limit passes. Network: the process runs under `unshare -n` (an empty network namespace)
where the system allows it, and with a `sitecustomize` that replaces the socket constructors
to raise; plus an address-space limit. This stops accidents (a test that fetches
a URL, an infinite loop, a memory blow-up); it is NOT a security boundary against hostile
code, which is why code evaluation is off unless asked for (`--allow-code-execution`).
Nothing here knows about models or the store.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEMORY_GUARD = '''"""grokviz sandbox guard, loaded before the program."""
import resource

resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
'''
SOCKET_GUARD = '''
import _socket
import socket as _socket_module


class _NoNetworkSocket(_socket_module.socket):
    def __init__(self, *args, **kwargs):
        raise OSError(101, "network access is disabled in the grokviz sandbox")


def _no_network(*args, **kwargs):
    raise OSError(101, "network access is disabled in the grokviz sandbox")


_socket_module.socket = _socket.socket = _NoNetworkSocket
_socket_module.create_connection = _socket_module.getaddrinfo = _socket.getaddrinfo = _no_network
'''


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one program ended: `passed`, `failed` (non-zero exit) or `timeout`."""

    status: str
    output: str  # the last characters of stdout and stderr
    seconds: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@functools.lru_cache(maxsize=1)
def can_unshare_network() -> bool:
    """Whether `unshare -n` works here (root, or unprivileged user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


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


def run_program(source: str, timeout: float, *, network: str = "auto", memory_mb: int = 2048) -> Outcome:
    """Run `source` with `python` in a sandbox. `network`: `auto` (an empty network namespace
    when the system allows it, and the socket guard), `unshare` (the namespace only; an error
    where unavailable) or `guard` (the socket guard only). Each alone blocks the network; the
    tests check both."""
    if network not in ("auto", "unshare", "guard"):
        raise ValueError(f"network must be auto, unshare or guard, got {network!r}")
    isolate = network == "unshare" or (network == "auto" and can_unshare_network())
    if network == "unshare" and not can_unshare_network():
        raise RuntimeError("unshare -n is not available on this machine")
    with tempfile.TemporaryDirectory(prefix="grokviz-sandbox-") as folder:
        work = Path(folder)
        guard = MEMORY_GUARD.format(memory=memory_mb * 2**20)
        (work / "sitecustomize.py").write_text(guard + (SOCKET_GUARD if network != "unshare" else ""))
        (work / "program.py").write_text(source)
        command = [sys.executable, "-s", "program.py"]
        command = ["unshare", "-n", *command] if isolate else command
        return _run(command, work, timeout)


def _run(command: list[str], work: Path, timeout: float) -> Outcome:
    env = {"PATH": os.defpath, "PYTHONPATH": str(work), "HOME": str(work), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        status = "passed" if process.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        _kill_group(process)
        output, _ = process.communicate()
        status = "timeout"
    text = output.decode("utf-8", errors="replace")[-2000:]
    return Outcome(status, text, time.perf_counter() - started)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the program and everything it started (it leads its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
