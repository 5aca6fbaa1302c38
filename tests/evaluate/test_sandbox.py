"""Code items cannot touch the user's files: destructive, runaway and networked programs end as a
failed or timed-out item, and a file outside the sandbox and a store stay byte-identical, in both
sandbox modes (bwrap: the kernel enforces it; guard: a Python-level guard stops accidents).

Where a program's folder is not the only thing in /tmp, the bwrap tests show /tmp read-only
instead of hidden (`visible_tmp`), so that they prove the read-only mount, not only the hiding.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from grokviz.evaluate import sandbox, sandbox_launch
from grokviz.evaluate.sandbox import SandboxUnavailable, check_program, resolve_sandbox, run_program

HAVE_BWRAP = shutil.which("bwrap") is not None
MODES = [pytest.param("bwrap", marks=pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap (bwrap) is not installed")),
         "guard"]
BWRAP_ONLY = pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap (bwrap) is not installed")


@pytest.fixture
def visible_tmp(monkeypatch):
    """Show /tmp read-only in bwrap sandboxes (the default hides it), so a test's files are there."""
    monkeypatch.setattr(sandbox_launch, "HIDDEN", tuple(p for p in sandbox_launch.HIDDEN if p != "/tmp"))


@pytest.fixture
def open_folder():
    """A temporary folder anyone may read (pytest's tmp_path is not), so that a bwrap sandbox
    running the program as uid 65534 refuses it for being read-only or hidden, not for its mode."""
    root = Path(tempfile.mkdtemp(prefix="grokviz-test-")).resolve()
    root.chmod(0o755)
    yield root
    shutil.rmtree(root)


@pytest.fixture
def victims(open_folder):
    """A file outside the sandbox and a small store, with their bytes before the program runs."""
    root = open_folder
    outside = root / "notes.txt"
    outside.write_text("the user's notes\n")
    store = root / "data"
    (store / "runs" / "tiny" / "tables").mkdir(parents=True)
    (store / "runs" / "tiny" / "run.json").write_text('{"run": "tiny"}\n')
    (store / "runs" / "tiny" / "tables" / "part.parquet").write_bytes(b"PAR1\x00\x01PAR1")
    return outside, store, snapshot(root)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(folder: str) -> list[int]:
    """Processes still working in a (finished) program's folder."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def process_limit_binds() -> bool:
    """Whether the kernel applies RLIMIT_NPROC to bwrap programs here (it never does to root)."""
    launcher = sandbox_launch.bwrap_launcher()[0]
    return launcher is not None and (launcher.owner is not None or os.geteuid() != 0)


# name: (program, {mode: text the output must hold}); OUTSIDE and STORE are filled in
HARMFUL = {
    "removes-a-file-outside": ("import os\nos.remove(OUTSIDE)\n",
                               {"bwrap": "Read-only file system",
                                "guard": "os.remove outside the program's folder is disabled"}),
    "writes-into-the-store": ("import pathlib\npathlib.Path(STORE, 'runs', 'tiny', 'run.json').write_text('{}')\n",
                              {"bwrap": "Read-only file system", "guard": "outside the program's folder is disabled"}),
    "adds-a-file-to-the-store": ("import os\nos.close(os.open(os.path.join(STORE, 'new.parquet'), os.O_CREAT | os.O_WRONLY))\n",
                                 {"bwrap": "Read-only file system", "guard": "os.open"}),
    "deletes-the-store": ("import shutil\nshutil.rmtree(STORE)\n",
                          {"bwrap": "Read-only file system", "guard": "shutil.rmtree is disabled"}),
    "renames-the-store": ("import os\nos.rename(STORE, STORE + '.old')\n",
                          {"bwrap": "Read-only file system", "guard": "os.rename outside"}),
    "spawns-a-subprocess": ("import subprocess\nsubprocess.run(['rm', '-rf', STORE, OUTSIDE], check=True)\n",
                            {"bwrap": "returned non-zero exit status", "guard": "subprocess.run is disabled"}),
    "shells-out": ("import os\nassert os.system('rm -rf ' + STORE) == 0\n",
                   {"bwrap": "AssertionError", "guard": "os.system is disabled"}),
    "memory-blow-up": ("blocks = []\nwhile True:\n    blocks.append(bytearray(2**24))\n",
                       {"bwrap": "MemoryError", "guard": "MemoryError"}),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", HARMFUL.keys())
def test_a_harmful_program_fails_and_leaves_files_alone(name, mode, victims, visible_tmp):
    outside, store, before = victims
    program, expected = HARMFUL[name]
    source = f"OUTSIDE = {str(outside)!r}\nSTORE = {str(store)!r}\n{program}"
    outcome = run_program(source, timeout=20, sandbox=mode, memory_mb=256)
    assert outcome.sandbox == mode
    assert outcome.status == "failed", outcome
    assert expected[mode] in outcome.output, outcome.output
    assert snapshot(outside.parent) == before


@BWRAP_ONLY
def test_bwrap_holds_against_a_program_that_bypasses_python(victims, visible_tmp):
    """The kernel refuses what libc is asked directly; guard mode could not stop this one."""
    outside, store, before = victims
    source = (f"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
              f"for path in ({str(outside)!r}, {str(store / 'runs' / 'tiny' / 'run.json')!r}):\n"
              f"    if libc.unlink(path.encode()) != 0:\n"
              f"        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), path)\n")
    outcome = run_program(source, timeout=20, sandbox="bwrap")
    assert outcome.status == "failed" and "Read-only file system" in outcome.output, outcome
    assert snapshot(outside.parent) == before


@pytest.mark.parametrize("mode", MODES)
def test_a_fork_bomb_ends_without_leaving_processes(mode, victims):
    outside, _, before = victims
    source = "import os\nprint(os.getcwd(), flush=True)\nwhile True:\n    os.fork()\n"
    started = time.perf_counter()
    outcome = run_program(source, timeout=5, sandbox=mode)
    assert time.perf_counter() - started < 15
    if mode == "guard":  # os.fork is refused
        assert outcome.status == "failed" and "os.fork is disabled" in outcome.output, outcome
    elif process_limit_binds():  # RLIMIT_NPROC stops it; its PID namespace dies with the program
        assert outcome.status == "failed" and "Resource temporarily unavailable" in outcome.output, outcome
    else:  # root outside a user namespace: the time limit ends it, with its PID namespace
        assert outcome.status == "timeout", outcome
    folder = re.search(r"/\S*grokviz-sandbox-[^/\s]+", outcome.output).group(0)
    time.sleep(0.5)
    assert leftovers(folder) == []
    assert snapshot(outside.parent) == before


@pytest.mark.parametrize("mode", MODES)
def test_an_infinite_loop_times_out(mode, victims):
    outside, _, before = victims
    started = time.perf_counter()
    outcome = run_program("while True:\n    pass\n", timeout=1.5, sandbox=mode)
    assert outcome.status == "timeout" and not outcome.passed
    assert time.perf_counter() - started < 8
    assert snapshot(outside.parent) == before


@pytest.mark.parametrize("mode", MODES)
def test_a_network_call_fails(mode, victims):
    outside, _, before = victims
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).close()\nprint('reached')\n"
        outcome = run_program(program, timeout=20, sandbox=mode)
    assert outcome.status == "failed" and "reached" not in outcome.output
    # bwrap: its own network namespace, where nothing listens; guard: the socket guard refuses
    expected = {"bwrap": "Connection refused", "guard": "network access is disabled in the grokviz sandbox"}
    assert expected[mode] in outcome.output, outcome.output
    assert snapshot(outside.parent) == before


@BWRAP_ONLY
def test_bwrap_hides_the_home(open_folder, monkeypatch, visible_tmp):
    """Reading the home: a secret in the user's HOME (a world-readable tmp folder here, with /tmp
    itself visible, so only the hiding of HOME stands in the way) is not in the sandbox at all,
    by its absolute path or as ~/; the home shows empty and read-only."""
    home = open_folder / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o755)
    secret = home / ".ssh" / "id_secret"
    secret.write_text("TOPSECRET-4242\n")
    monkeypatch.setenv("HOME", str(home))
    programs = {f"print(open({str(secret)!r}).read())\n": "FileNotFoundError",
                "import os\nprint(open(os.path.expanduser('~/.ssh/id_secret')).read())\n": "FileNotFoundError",
                f"import os\nprint('listing', os.listdir({str(home)!r}))\nopen({str(home / 'planted')!r}, 'w')\n":
                    "Read-only file system"}
    for program, error in programs.items():
        outcome = run_program(program, timeout=20, sandbox="bwrap")
        assert outcome.status == "failed" and error in outcome.output and "TOPSECRET" not in outcome.output, outcome
    assert "listing []" in outcome.output
    assert secret.read_text() == "TOPSECRET-4242\n" and sorted(p.name for p in home.iterdir()) == [".ssh"]


@BWRAP_ONLY
def test_bwrap_hides_other_temporary_folders(tmp_path):
    (tmp_path / "other.txt").write_text("someone else's scratch file\n")
    outcome = run_program(f"print(open({str(tmp_path / 'other.txt')!r}).read())\n", timeout=20, sandbox="bwrap")
    assert outcome.status == "failed" and "FileNotFoundError" in outcome.output


def test_guard_mode_keeps_the_home_out_of_reach_by_name(tmp_path, monkeypatch):
    """Guard mode cannot stop a program reading a file by its absolute path (nothing at the
    Python level can, which is why bwrap is preferred). What it does guarantee: HOME is the
    program's own folder, the user's environment is not passed on, and the home cannot be
    written or deleted."""
    home = tmp_path / "home"
    home.mkdir()
    secret = home / "secret.txt"
    secret.write_text("TOPSECRET-4242\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GROKVIZ_TEST_TOKEN", "TOKEN-777")
    reads = run_program("import os\nprint(os.environ.get('GROKVIZ_TEST_TOKEN'), os.path.expanduser('~'))\n"
                        "print(open(os.path.expanduser('~/secret.txt')).read())\n", timeout=20, sandbox="guard")
    assert reads.status == "failed" and "FileNotFoundError" in reads.output
    assert "TOKEN-777" not in reads.output and str(home) not in reads.output and "grokviz-sandbox-" in reads.output
    writes = run_program(f"import os\nos.remove({str(secret)!r})\n", timeout=20, sandbox="guard")
    assert writes.status == "failed" and "is disabled" in writes.output
    assert secret.read_text() == "TOPSECRET-4242\n"


HUMANEVAL_PROMPT = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    """
'''
HUMANEVAL_COMPLETION = '''    import math, pathlib, tempfile
    pathlib.Path("scratch.txt").write_text("a program may use its own folder")
    with tempfile.NamedTemporaryFile("w") as file:
        file.write("and temporary files")
    ordered = sorted(numbers)
    return any(math.fabs(b - a) < threshold for a, b in zip(ordered, ordered[1:]))
'''
HUMANEVAL_TESTS = '''

METADATA = {'author': 'jt', 'dataset': 'test'}


def check(candidate):
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True
    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False
    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True
    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True
'''


@pytest.mark.parametrize("mode", MODES)
def test_a_correct_humaneval_program_passes(mode):
    program = check_program(HUMANEVAL_PROMPT, HUMANEVAL_COMPLETION, HUMANEVAL_TESTS, "has_close_elements")
    outcome = run_program(program, timeout=20, sandbox=mode)
    assert outcome.status == "passed" and outcome.sandbox == mode, outcome
    wrong = program.replace("< threshold", "> threshold")
    assert run_program(wrong, timeout=20, sandbox=mode).status == "failed"


def test_auto_falls_back_to_guard_with_a_warning_when_bwrap_is_missing(monkeypatch):
    monkeypatch.setattr(sandbox_launch.shutil, "which", lambda name: None if name == "bwrap" else "/usr/bin/" + name)
    launcher, reason = sandbox_launch.bwrap_launcher.__wrapped__()
    assert launcher is None and "not installed" in reason and "apt-get install bubblewrap" in reason
    monkeypatch.setattr(sandbox, "bwrap_launcher", lambda: (None, reason))
    choice = resolve_sandbox("auto")
    assert choice.mode == "guard" and "apt-get install bubblewrap" in choice.warning
    assert "\n" not in choice.warning and "determined program can undo" in choice.warning
    with pytest.raises(SandboxUnavailable, match="--sandbox bwrap: bubblewrap .bwrap. is not installed"):
        resolve_sandbox("bwrap")
    assert run_program("print('ran')\n", timeout=20).sandbox == "guard"


def test_auto_means_bwrap_where_it_works():
    if not HAVE_BWRAP:
        pytest.skip("bubblewrap (bwrap) is not installed")
    launcher, reason = sandbox_launch.bwrap_launcher()
    assert launcher is not None, reason  # installed but unable to start is a failure, not a skip
    assert resolve_sandbox("auto").mode == "bwrap" and resolve_sandbox("auto").warning is None
