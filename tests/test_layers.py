"""Layering is enforced, not hoped for: heavy or UI modules never leak into the wrong layer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from factories import ROOT

PACKAGE = ROOT / "grokviz"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("folder,forbidden", [
    ("metrics", {"torch", "transformers", "duckdb", "streamlit", "plotly"}),
    ("analysis", {"torch", "transformers", "duckdb", "streamlit", "plotly"}),
    ("figures", {"torch", "transformers", "duckdb", "streamlit", "umap"}),
], ids=["metrics", "analysis", "figures"])
def test_pure_layers_import_no_heavy_or_ui_module(folder, forbidden):
    for path in sorted((PACKAGE / folder).glob("*.py")):
        assert not imported_modules(path) & forbidden, path.name


def test_only_the_store_layer_speaks_sql():
    allowed = {"tables.py", "summary.py", "ui.py"}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "duckdb" in imported_modules(path):
            assert path.name in allowed, path


UI_MODULES = {"ui.py", "widgets.py"}  # every Streamlit call and cache decorator lives here


def test_streamlit_lives_only_in_the_ui_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "streamlit" in imported_modules(path):
            assert path.name in UI_MODULES, path


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return set(out.stdout.split())


def test_headless_modules_load_without_torch_streamlit_or_umap():
    modules = loaded_after("import grokviz.cli, grokviz.tables, grokviz.results, grokviz.analysis.run, "
                           "grokviz.metrics.distance")
    assert not {"torch", "streamlit", "umap", "transformers"} & modules


def test_the_dashboard_modules_never_load_torch():
    pages = " ".join(f"'{p}'" for p in sorted((ROOT / "app_pages").glob("*.py")))
    code = ("import ast, sys; sys.argv=['x']\nimport grokviz.ui\n"
            f"for page in [{pages.replace(' ', ', ')}]:\n"
            "    tree = ast.parse(open(page).read())\n"
            "    for node in ast.walk(tree):\n"
            "        if isinstance(node, (ast.Import, ast.ImportFrom)):\n"
            "            exec(compile(ast.Module([node], []), page, 'exec'))")
    if not (ROOT / "grokviz" / "ui.py").exists():
        pytest.skip("dashboard not built yet")
    modules = loaded_after(code)
    assert "torch" not in modules and "transformers" not in modules and "umap" not in modules
