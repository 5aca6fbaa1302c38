"""The metrics package's own rules: no heavy imports, and every public function documented."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = ["pathways", "distance", "consistency", "memorization", "generalization", "pairing",
           "correlation", "health"]
HEAVY = ["torch", "transformers", "duckdb", "streamlit", "plotly", "umap", "sentence_transformers"]
ROOT = Path(__file__).resolve().parents[2]


def test_importing_every_metric_module_loads_nothing_heavy():
    code = (
        "import sys\n"
        + "".join(f"import grokviz.metrics.{m}\n" for m in MODULES)
        + f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_are_typed_and_carry_an_example(name):
    module = importlib.import_module(f"grokviz.metrics.{name}")
    assert module.__doc__ and "never" in module.__doc__  # says what it must not do
    functions = [f for n, f in vars(module).items()
                 if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == module.__name__]
    assert functions
    for function in functions:
        assert function.__doc__ and ">>>" in function.__doc__, function.__name__
        assert "return" in function.__annotations__, function.__name__
