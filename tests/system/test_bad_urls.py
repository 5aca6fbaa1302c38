"""Hostile URL parameters: SQL metacharacters and paths in every parameter of the dashboard.

Each payload goes into every URL parameter `viewstate.PARAMS` knows (run, step, step2, group,
sample, layers, layer, color, topn, flow, source, pair, metric, eps, delta, curves) at once,
on a copy of an analysed store. Every page must render without an exception, each parameter
must be named in its own "Ignored URL parameter" warning, and the store must not change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from factories import ROOT, snapshot
from streamlit.testing.v1 import AppTest

from grokviz.dashboard.viewstate import PARAMS

PAGES = ("memorization", "pathways", "map", "grokking", "inspector", "health")
PAYLOADS = {
    "sql-quote": "1' OR '1'='1",
    "sql-statement": "x'); DROP TABLE samples; --",
    "sql-comment": "100 /* */ UNION SELECT * FROM read_csv('/etc/passwd') --",
    "traversal": "../../../../etc/passwd",
    "absolute-path": "/etc/passwd",
    "windows-path": "..\\..\\store.json",
    "encoded-traversal": "..%2F..%2Fstore.json",
}
pytestmark = [pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def store(tmp_path_factory, analyzed_store) -> Path:
    return Path(shutil.copytree(analyzed_store.root, tmp_path_factory.mktemp("urls") / "data"))


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_hostile_values_in_every_url_parameter_give_warnings_only(payload, store, monkeypatch):
    monkeypatch.setenv("GROKVIZ_STORE", str(store))
    before = snapshot(store)
    at = AppTest.from_file(str(ROOT / "grokviz" / "dashboard" / "app.py"), default_timeout=60)
    at.query_params = {name: payload for name in PARAMS}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    warned = [w.value for w in at.warning]
    for name in PARAMS:
        assert any(w.startswith(f"Ignored URL parameter `{name}`") for w in warned), (name, warned)
    for page in PAGES:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])
    assert snapshot(store) == before
    assert not (store.parent / "etc").exists() and not (Path("/etc") / "store.json").exists()
