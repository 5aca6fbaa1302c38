"""Safe defaults: localhost only, no remote code without a flag, parameterised SQL, confined paths.

(Pickle weights loading only through `torch.load(weights_only=True)` is
tests/system/test_bad_input.py::test_pickle_weights_load_only_through_weights_only.)

The SQL rule, checked on every `.py` file of grokviz/ by reading its syntax tree: every SQL
call lives in grokviz/store/, and a call `X.execute(...)`, `X.executemany(...)`, `X.sql(...)` or
`X.query(...)` has an SQL argument (the first positional one) that must be
  1. a string literal, or
  2. the `sql` parameter of a listed pass-through wrapper (`Tables.query`), whose own callers
     this same rule checks, or
  3. an f-string whose every `{field}`, by its source text, is listed for that file and function
     in ALLOWED_FIELDS: names bound only to constants of the code (view SQL, contract columns,
     ORDER_BY entries after the table name was checked, fixed clause fragments).
Anything else fails: `+` or `%` on a string, `.format(...)`, a plain variable, an f-string with
any other field. Values always travel as `?` parameters.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from factories import ROOT

from grokviz import cli
from grokviz.dashboard import viewstate
from grokviz.errors import GrokvizError, InputError, ModelError

SQL_METHODS = {"execute", "executemany", "sql", "query"}
WRAPPERS = {("grokviz/store/tables.py", "query")}  # passes its `sql` parameter on
ALLOWED_FIELDS = {
    ("grokviz/store/tables.py", "__init__"): {"view", "sql"},  # `for view, sql in VIEW_SQL.items()`
    ("grokviz/store/tables.py", "table"): {"columns", "name", "ORDER_BY[name]"},  # name in ORDER_BY, checked first
    ("grokviz/store/tables.py", "columns"): {"name"},  # name is one of the views, checked first
    ("grokviz/store/queries.py", "token_links"): {"clause"},  # `_ids_clause`: "" or a fixed "... IN (SELECT unnest(?))"
}


# --- network ----------------------------------------------------------------------------------
def test_the_dashboard_binds_to_localhost_by_default():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"


@pytest.mark.parametrize("extra, address", [([], "localhost"), (["--host", "0.0.0.0"], "0.0.0.0")],
                         ids=["default", "host-given"])
def test_grokviz_app_passes_localhost_unless_a_host_is_given(extra, address, monkeypatch, tmp_path):
    launched: list[list[str]] = []

    def capture(argv, *args, **kwargs):
        launched.append([str(a) for a in argv])
        return subprocess.CompletedProcess(argv, 0)

    for name in ("run", "call", "Popen", "check_call"):
        monkeypatch.setattr(subprocess, name, capture)
    monkeypatch.setattr("os.execvp", lambda file, argv: capture(argv))
    monkeypatch.setattr("os.execv", lambda file, argv: capture(argv))
    cli.main(["app", "--store", str(tmp_path), *extra])
    argv = launched[-1]
    assert argv[argv.index("--server.address") + 1] == address, argv


# --- remote code --------------------------------------------------------------------------------
def test_trust_remote_code_is_off_unless_asked_for():
    from grokviz.config import ExtractConfig, ModelRuntime

    assert ExtractConfig(run="r", model="m", samples="s.jsonl").trust_remote_code is False
    assert ModelRuntime().trust_remote_code is False
    args = cli.build_parser().parse_args(["extract", "--model", "m", "--samples", "s", "--run", "r"])
    assert args.trust_remote_code is False


def test_a_checkpoint_that_needs_remote_code_fails_clearly_without_the_flag(series_factory, tmp_path):
    import torch

    from grokviz.extract.loading import load_model
    from grokviz.inputs.checkpoints import Checkpoint

    folder = Path(shutil.copytree(series_factory("olmoe") / "step100", tmp_path / "remote" / "step1"))
    config = json.loads((folder / "config.json").read_text())
    config |= {"model_type": "grokviz_remote", "auto_map": {"AutoConfig": "configuration_remote.RemoteConfig",
                                                            "AutoModelForCausalLM": "modeling_remote.RemoteModel"}}
    (folder / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "remote-code-ran"
    for module in ("configuration_remote", "modeling_remote"):
        (folder / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(ModelError, match="--trust-remote-code") as raised:
        load_model(Checkpoint(step=1, path=str(folder)), torch.device("cpu"), torch.float32)
    assert "step1" in str(raised.value) and "\n" not in str(raised.value)
    assert not marker.exists(), "the checkpoint's own code ran without --trust-remote-code"


# --- SQL ---------------------------------------------------------------------------------------
def sql_calls(path: Path) -> list[tuple[str, ast.expr, ast.FunctionDef | None]]:
    """(what, SQL argument, enclosing function) of every SQL call in a file."""
    found = []

    def visit(node: ast.AST, function) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Attribute) and func.attr in SQL_METHODS and child.args:
                    found.append((func.attr, child.args[0], function))
            visit(child, inner)

    visit(ast.parse(path.read_text()), None)
    return found


def sql_problem(relative: str, arg: ast.expr, function, used: set) -> str | None:
    """Why this SQL argument breaks the rule (None when it follows it)."""
    name = function.name if function else "<module>"
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return None
    if isinstance(arg, ast.Name) and (relative, name) in WRAPPERS and arg.id == "sql" \
            and "sql" in [a.arg for a in function.args.args]:
        return None
    if isinstance(arg, ast.JoinedStr):
        fields = {ast.unparse(v.value) for v in arg.values if isinstance(v, ast.FormattedValue)}
        allowed = ALLOWED_FIELDS.get((relative, name), set())
        used.add((relative, name))
        return None if fields <= allowed else f"f-string fields {sorted(fields - allowed)} not allowed"
    return f"SQL built from {type(arg).__name__}: {ast.unparse(arg)[:80]}"


def test_every_sql_statement_is_parameterised():
    problems, used, calls = [], set(), 0
    for path in sorted((ROOT / "grokviz").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        for what, arg, function in sql_calls(path):
            calls += 1
            if not relative.startswith("grokviz/store/"):
                problems.append(f"{relative}:{arg.lineno} {what}(): SQL outside grokviz/store/")
            problem = sql_problem(relative, arg, function, used)
            if problem:
                problems.append(f"{relative}:{arg.lineno} {what}(): {problem}")
    assert problems == []
    assert calls >= 15, "the rule found too few SQL calls: did the call names change?"
    assert used == set(ALLOWED_FIELDS), f"stale ALLOWED_FIELDS entries: {set(ALLOWED_FIELDS) - used}"


@pytest.mark.parametrize("code, problem", [
    ('con.execute(f"SELECT * FROM t WHERE id = {value}")', "not allowed"),
    ('con.execute("SELECT * FROM t WHERE id = " + value)', "BinOp"),
    ('con.execute("SELECT * FROM t WHERE id = %s" % value)', "BinOp"),
    ('tables.query("SELECT * FROM {}".format(name))', "Call"),
    ("con.sql(statement)", "Name"),
    ('tables.query(f"SELECT {columns} FROM t")', "not allowed"),
], ids=["f-string", "plus", "percent", "format", "variable", "columns"])
def test_the_sql_rule_catches_string_building(code, problem, tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(f"def f(con, tables, ctx, value, name, statement, columns):\n    {code}\n")
    [(_, arg, function)] = sql_calls(path)
    assert problem in sql_problem("bad.py", arg, function, set())


# --- paths ---------------------------------------------------------------------------------------
HOSTILE_RUNS = ["../tiny", "../../etc/passwd", "/etc/passwd", "tiny/../../x", "..", ".", "tiny\n", "tiny/",
                "C:\\x", "tiny\x00", "~root", ""]


@pytest.mark.parametrize("raw", HOSTILE_RUNS)
def test_a_run_name_from_a_url_never_becomes_a_path(raw, small_store):
    from grokviz.dashboard import cache

    view, problems = viewstate.parse_params({"run": raw}, viewstate.Known(runs=tuple(small_store.runs())))
    assert "run" not in view and problems
    with pytest.raises(InputError, match="run name"):
        small_store.run_dir(raw)
    with pytest.raises(GrokvizError):
        cache.context(small_store, raw)


@pytest.mark.parametrize("key", ["../../runs/tiny", "/etc", "..", "0123456789abcdeg"])
def test_the_latest_pointer_cannot_lead_out_of_the_analysis_folder(key, analyzed_store, tmp_path):
    from grokviz.store import analyses
    from grokviz.store.layout import Store

    store = Store(shutil.copytree(analyzed_store.root, tmp_path / "data"))
    analyses.write_latest(store, "tiny", key)
    assert analyses.latest_key(store, "tiny") is None
    assert analyses.analysis_file(store, "tiny", "pathways") is None
