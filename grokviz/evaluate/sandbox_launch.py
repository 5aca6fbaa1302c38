"""How a sandboxed program is started: the bubblewrap command, the guard-mode command, and the
probes that find which of them works on this machine.

A `Launcher` is the command put in front of `python -s program.py` and the uid that owns the
program's folder. Each candidate is probed once per process (a real start of this Python in
it, which must report this interpreter's version and write into its folder); the first that
works is used, and the reasons the others failed are kept for the warning and the error.

bwrap (kernel-enforced): the whole filesystem read-only (`--ro-bind / /`), /tmp, /var/tmp,
/home, /root and the user's home replaced by empty read-only folders (this Python's
installation is bound back, read-only, where it lives under one of them), only the program's
folder writable, its own network (nothing but loopback), PID, IPC and UTS namespaces, a new
session, killed with its parent. Started as root, the program drops to uid/gid 65534
(`setpriv` inside the sandbox; else `--unshare-user --uid 65534`, where the kernel still
counts it as root outside). Started as a user, it runs as that user in a user namespace.
guard: `unshare -n` where allowed (an empty network namespace), as uid 65534 when started as
root and this Python is readable by it; the Python-level guard does the rest (sandbox_site.py).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

NOBODY = 65534
HIDDEN = ("/tmp", "/var/tmp", "/home", "/root")  # plus the user's home
INSTALL_HINT = "install it with `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap`"
PROBE = ("import pathlib, sys\npathlib.Path('written').write_text('ok')\n"
         "print(sys.version)\n")


@dataclasses.dataclass(frozen=True)
class Launcher:
    """One way of starting a program: `command(folder)` goes in front of `python -s program.py`."""

    mode: str  # "bwrap" or "guard"
    detail: str  # how the program runs, for provenance and messages
    command: Callable[[Path], list[str]]
    owner: int | None = None  # the uid given the program's folder (None: stays the caller's)


def program_env(folder: Path) -> dict[str, str]:
    """The whole environment of a program: no proxies, no tokens, HOME and TMPDIR its folder."""
    return {"PATH": os.defpath, "PYTHONPATH": str(folder), "HOME": str(folder), "TMPDIR": str(folder),
            "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def hidden_folders() -> list[Path]:
    """Folders a bwrap sandbox shows empty: temporary folders and homes (outermost only)."""
    homes = [os.path.expanduser("~")]
    try:
        homes.append(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        pass
    found = sorted({Path(p).resolve() for p in (*HIDDEN, *homes) if p and Path(p).is_dir()} - {Path("/")})
    python = python_folders()  # never hide a folder that holds this Python (it is bound back inside)
    return [p for p in found if not any(q != p and q in p.parents for q in found)
            and not any(q == p or q in p.parents for q in python)]


def python_folders() -> list[Path]:
    """Where this Python lives (venv, installation): what a sandbox must keep readable."""
    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    found = sorted({Path(p).resolve() for p in places} | {Path(p) for p in places})
    return [p for p in found if not any(q != p and q in p.parents for q in found)]


def bwrap_args(folder: Path) -> list[str]:
    """The mounts and namespaces of a bwrap sandbox around `folder` (its only writable place)."""
    args = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden_all = hidden_folders()
    for hidden in hidden_all:
        args += ["--perms", "0755", "--tmpfs", str(hidden)]
        for place in [p for p in python_folders() if hidden in p.parents]:
            args += [*_parents(place, hidden), "--ro-bind", str(place), str(place)]
        if hidden in folder.parents:
            args += [*_parents(folder, hidden), "--bind", str(folder), str(folder)]
        args += ["--remount-ro", str(hidden)]
    if not any(hidden in folder.parents for hidden in hidden_all):
        args += ["--bind", str(folder), str(folder)]
    return args + ["--chdir", str(folder)]


def _parents(place: Path, hidden: Path) -> list[str]:
    """Create the folders between `hidden` and `place` traversable by anyone (mode 0755)."""
    out: list[str] = []
    for parent in reversed([q for q in place.parents if hidden in q.parents]):
        out += ["--perms", "0755", "--dir", str(parent)]
    return out


def bwrap_candidates() -> list[Launcher]:
    """The bwrap launchers to try here, best first."""
    if os.geteuid() != 0:
        return [Launcher("bwrap", f"bubblewrap, as uid {os.getuid()} in a user namespace",
                         lambda folder: [*bwrap_args(folder), "--"])]
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    dropped = Launcher("bwrap", f"bubblewrap, program as uid {NOBODY} (setpriv)",
                       lambda folder: [*bwrap_args(folder), "--cap-add", "CAP_SETUID", "--cap-add",
                                       "CAP_SETGID", "--", *drop], owner=NOBODY)
    mapped = Launcher("bwrap", f"bubblewrap, uid {NOBODY} in a user namespace (root outside it: no "
                      "process limit)", lambda folder: [*bwrap_args(folder), "--unshare-user", "--uid",
                                                        str(NOBODY), "--gid", str(NOBODY), "--"])
    return [dropped, mapped] if shutil.which("setpriv") else [mapped]


def guard_candidates() -> list[Launcher]:
    """The guard-mode launchers to try here, best first (the last always works)."""
    network = ["unshare", "-n"] if can_unshare_network() else []
    where = "no network namespace (unshare -n refused)" if not network else "unshare -n"
    plain = Launcher("guard", f"Python-level guard, {where}, as uid {os.getuid()}", lambda folder: list(network))
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return [plain]
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return [Launcher("guard", f"Python-level guard, {where}, as uid {NOBODY}",
                     lambda folder: [*network, *drop], owner=NOBODY), plain]


@functools.lru_cache(maxsize=1)
def can_unshare_network() -> bool:
    """Whether `unshare -n` works here (root, or unprivileged user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=1)
def bwrap_launcher() -> tuple[Launcher | None, str]:
    """The bwrap launcher that works here, or None and why none does."""
    if shutil.which("bwrap") is None:
        return None, f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}"
    reasons = []
    for launcher in bwrap_candidates():
        failure = probe(launcher)
        if failure is None:
            return launcher, ""
        reasons.append(f"{launcher.detail}: {failure}")
    return None, "bubblewrap cannot start here (" + "; ".join(reasons) + ")"


@functools.lru_cache(maxsize=1)
def guard_launcher() -> Launcher:
    """The best guard-mode launcher that works here."""
    candidates = guard_candidates()
    return next((c for c in candidates[:-1] if probe(c) is None), candidates[-1])


def probe(launcher: Launcher) -> str | None:
    """None when a program started by `launcher` runs this Python and can write its folder."""
    with tempfile.TemporaryDirectory(prefix="grokviz-sandbox-probe-") as name:
        folder = Path(name).resolve()
        (folder / "probe.py").write_text(PROBE)
        if launcher.owner is not None:
            os.chown(folder, launcher.owner, launcher.owner)
        command = [*launcher.command(folder), sys.executable, "-s", "probe.py"]
        try:
            done = subprocess.run(command, cwd=folder, env=program_env(folder), capture_output=True,
                                  text=True, timeout=30, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as error:
            return f"{command[0]}: {error}"
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            return lines[-1] if lines else f"exit status {done.returncode}"
        if done.stdout.strip() != sys.version:
            return f"it runs another Python ({done.stdout.strip().split(' ')[0]}): this one is not readable there"
        if not (folder / "written").exists():
            return "the program's folder is not writable there"
    return None
