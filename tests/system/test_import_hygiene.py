"""Layering, proved in fresh interpreters: headless modules never load torch, Streamlit or umap.

The static layering (which package may import which) is checked by `lint-imports` with the
contracts in pyproject.toml; `make test` runs it. A static contract cannot prove that a deferred
import stays deferred, so each statement below runs alone in a new interpreter and the test
names the statement and what leaked (harlequin's import-hygiene test is the model).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import ROOT

# What a headless import must not load, and why.
FORBIDDEN = {
    "torch": "the model stack: only extraction, evaluation, the demo and synthetic checkpoints need it",
    "transformers": "the model stack, as torch",
    "streamlit": "the UI: only grokviz.dashboard may load it",
    "umap": "UMAP compiles with numba for ~25 s: only the analysis' projection step needs it",
    "numba": "pulled in by umap",
}
HEADLESS = [
    "import grokviz",
    "import grokviz.cli",
    "from grokviz.cli import build_parser; build_parser()",
    "import grokviz.api",
    "import grokviz.report",
    "import grokviz.store.tables",
    "import grokviz.store.queries",
    "import grokviz.analysis.run",
    "import grokviz.metrics.distance",
    "import grokviz.figures.report",
    "import grokviz.inputs.samples",
]
DASHBOARD = ["import grokviz.dashboard.cache", "import grokviz.dashboard.widgets"]


def loaded_by(statement: str) -> set[str]:
    """Top-level modules loaded after running `statement` in a fresh interpreter."""
    code = f"{statement}\nimport sys, json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, f"{statement!r} failed: {out.stderr[-1500:]}"
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("statement", HEADLESS)
def test_headless_imports_load_no_model_ui_or_umap(statement):
    leaked = loaded_by(statement) & set(FORBIDDEN)
    assert not leaked, f"{statement!r} loaded {sorted(leaked)}: " + "; ".join(FORBIDDEN[m] for m in sorted(leaked))


@pytest.mark.parametrize("statement", DASHBOARD)
def test_dashboard_imports_load_no_model_or_umap(statement):
    leaked = loaded_by(statement) & (set(FORBIDDEN) - {"streamlit"})
    assert not leaked, f"{statement!r} loaded {sorted(leaked)}: " + "; ".join(FORBIDDEN[m] for m in sorted(leaked))


def test_importing_grokviz_loads_nothing_heavy():
    assert not loaded_by("import grokviz") & {"pandas", "numpy", "duckdb", "pyarrow", "plotly", *FORBIDDEN}


def test_the_layer_contracts_hold():
    """`lint-imports` with the contracts of pyproject.toml (also run by `make test`)."""
    lint = Path(sys.executable).with_name("lint-imports")  # installed beside this interpreter
    out = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout
