"""The `sitecustomize` every sandboxed program starts with: limits, and in guard mode the guard.

`sandbox.py` copies this file, as it is, into the program's folder as `sitecustomize.py` and
appends one call of `install` (`site_source`). So it imports only the standard library, and
grokviz never calls `install` in its own process. What `install` does:

- both modes: an address-space limit (RLIMIT_AS) and a process-count limit (RLIMIT_NPROC: the
  tasks its user has now plus `extra_processes`; the kernel does not apply it to root);
- guard mode only (no bubblewrap): HumanEval-style, the socket constructors, the destructive
  `os`/`posix`/`shutil`/`subprocess` entry points and `exit`/`quit` are replaced by functions
  that raise `PermissionError`; writes (`open`, `os.open`, `os.mkdir`, removals, renames) are
  allowed only inside the program's folder; `resource` can no longer be imported (so the
  limits cannot be raised from Python). This is a Python-level guard: a determined program
  can undo it (ctypes, `gc` tricks), which is why bubblewrap is preferred.

If installing fails, the program does not run (`site_source` exits with status 70).
"""

from __future__ import annotations

import builtins
import io
import os
import sys

REFUSED = "{} is disabled in the grokviz sandbox (guard mode)"
ALWAYS_REFUSED_OS = (
    "kill", "killpg", "fork", "forkpty", "system", "putenv", "chmod", "lchmod", "fchmod", "chown",
    "lchown", "fchown", "chroot", "link", "symlink", "mkfifo", "mknod", "setuid", "seteuid",
    "setreuid", "setresuid", "setgid", "setegid", "setregid", "setresgid", "setgroups", "popen",
    "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe", "spawnl",
    "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "posix_spawn",
    "posix_spawnp",
)
PATH_CHECKED_OS = {"remove": 1, "unlink": 1, "rmdir": 1, "rename": 2, "renames": 2, "replace": 2,
                   "truncate": 1, "mkdir": 1, "utime": 1}  # allowed when its paths are in the folder
PATH_KEYWORDS = ("path", "src", "dst", "old", "new", "name")
DIR_FD_KEYWORDS = ("dir_fd", "src_dir_fd", "dst_dir_fd")
REFUSED_SHUTIL = ("rmtree", "move", "chown")
REFUSED_SUBPROCESS = ("Popen", "run", "call", "check_call", "check_output", "getoutput",
                      "getstatusoutput")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install(folder: str, memory: int, extra_processes: int, guard: bool) -> None:
    """Limits for every program; the Python-level guard in guard mode."""
    set_limits(memory, extra_processes)
    if guard:
        block_network()
        block_destructive(os.path.realpath(folder))
        sys.modules["resource"] = None  # type: ignore[assignment]  # HumanEval: no raising limits


def set_limits(memory: int, extra_processes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    processes = tasks_of(os.getuid()) + extra_processes
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def tasks_of(uid: int) -> int:
    """Tasks (threads included, as RLIMIT_NPROC counts them) of `uid` visible in /proc."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as file:
                fields = dict(line.split(":", 1) for line in file if ":" in line)
        except OSError:
            continue  # the process ended meanwhile
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def block_network() -> None:
    import _socket
    import socket

    def refuse(*args, **kwargs):
        raise OSError(101, "network access is disabled in the grokviz sandbox")

    class NoNetworkSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse()

    socket.socket = _socket.socket = NoNetworkSocket  # type: ignore[misc]
    socket.create_connection = socket.getaddrinfo = _socket.getaddrinfo = refuse  # type: ignore[assignment]


def refuser(name: str):
    def refuse(*args, **kwargs):
        raise PermissionError(REFUSED.format(name))

    refuse.__name__ = name.rpartition(".")[2]
    return refuse


def block_destructive(folder: str) -> None:
    """Replace what can destroy files outside `folder`, start processes or change identity."""
    import posix
    import shutil
    import subprocess

    realpath, original_open, original_os_open = os.path.realpath, io.open, os.open

    def inside(path) -> bool:
        if isinstance(path, int):
            return False  # a file descriptor: its path is unknown here
        try:
            target = realpath(os.fsdecode(os.fspath(path)))
        except (TypeError, ValueError):
            return False
        return target == folder or target.startswith(folder + os.sep) or target == os.devnull

    def checked(name: str, function, n_paths: int):
        def guarded(*args, **kwargs):
            paths = list(args[:n_paths]) + [kwargs[k] for k in PATH_KEYWORDS if k in kwargs]
            relative_to_fd = any(kwargs.get(k) is not None for k in DIR_FD_KEYWORDS)
            if relative_to_fd or not paths or not all(inside(p) for p in paths):
                raise PermissionError(REFUSED.format(f"os.{name} outside the program's folder"))
            return function(*args, **kwargs)

        guarded.__name__ = name
        return guarded

    def guarded_open(file, mode="r", *args, **kwargs):
        if not isinstance(file, int) and set(mode) & set("wax+") and not inside(file):
            raise PermissionError(REFUSED.format(f"open({file!r}, {mode!r}) outside the program's folder"))
        return original_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS and (kwargs.get("dir_fd") is not None or not inside(path)):
            raise PermissionError(REFUSED.format(f"os.open({path!r}) for writing outside the program's folder"))
        return original_os_open(path, flags, *args, **kwargs)

    for name in ALWAYS_REFUSED_OS:
        for module in (os, posix):
            if hasattr(module, name):
                setattr(module, name, refuser(f"os.{name}"))
    for name, n_paths in PATH_CHECKED_OS.items():
        for module in (os, posix):
            if hasattr(module, name):
                setattr(module, name, checked(name, getattr(module, name), n_paths))
    os.open = posix.open = guarded_os_open
    builtins.open = io.open = guarded_open
    for name in REFUSED_SHUTIL:
        setattr(shutil, name, refuser(f"shutil.{name}"))
    for name in REFUSED_SUBPROCESS:
        setattr(subprocess, name, refuser(f"subprocess.{name}"))
    import _posixsubprocess

    _posixsubprocess.fork_exec = refuser("_posixsubprocess.fork_exec")
    builtins.exit = refuser("exit")  # type: ignore[assignment]
    builtins.quit = refuser("quit")  # type: ignore[assignment]


def site_source(folder: str, memory: int, extra_processes: int, guard: bool) -> str:
    """This module's text plus the call of `install` that fails closed (exit status 70)."""
    with open(__file__, encoding="utf-8") as file:
        text = file.read()
    return (f"{text}\n\ntry:\n    install({folder!r}, {memory}, {extra_processes}, {guard})\n"
            "except BaseException as error:\n"
            "    sys.stderr.write(f'grokviz sandbox: could not set up the program: {error!r}\\n')\n"
            "    sys.stderr.flush()\n"
            "    os._exit(70)\n"
            "del install\n")
