"""grokviz.dashboard.cache: cache keys follow the store's files; every call reaches `grokviz.api.Run`."""

from __future__ import annotations

import re
import shutil

from factories import copy_store

from grokviz.api import Run
from grokviz.dashboard import cache


def test_open_store_messages(tmp_path):
    store, problem = cache.open_store(str(tmp_path))
    assert store is None and "store.json missing" in problem


def test_token_changes_when_a_checkpoint_or_analysis_lands(small_store, tmp_path):
    from grokviz.analysis.run import analyze
    from grokviz.config import AnalyzeConfig

    store = copy_store(small_store, tmp_path / "data")
    last = sorted((store.run_dir("tiny") / "checkpoints").glob("step=*"))[-1]
    shutil.move(last, tmp_path / "held-back")
    before = cache.context(store, "tiny")
    assert cache.steps(before) == [100, 200]
    shutil.move(tmp_path / "held-back", last)  # the extraction finished the checkpoint
    after = cache.context(store, "tiny")
    assert after.token != before.token and cache.steps(after) == [100, 200, 300]
    analyze(AnalyzeConfig(run="tiny", projection=False, pairing=False), store, progress=False)
    assert cache.context(store, "tiny").token != after.token


def test_known_values_for_url_validation(small_store):
    known = cache.known(cache.context(small_store, "tiny"), ("tiny",))
    assert known.steps == (100, 200, 300) and known.groups == ("even", "odd")
    assert known.n_layers == 3 and known.n_experts == 8 and "s011" in known.samples and known.pairs == ()


def test_cached_reads_equal_the_runs_own(demo_store):
    ctx = cache.context(demo_store, "demo")
    with Run(demo_store, "demo") as run:
        assert cache.steps(ctx) == run.steps()
        assert cache.analysis(ctx, "pairs").equals(run.analysis("pairs"))
        assert cache.analysis(ctx, "nonexistent") is None


def test_report_button_builds_the_same_report_as_the_cli(demo_store, tmp_path):
    from grokviz.cli import main

    page = cache.report_html(cache.context(demo_store, "demo"))
    assert main(["report", "--store", str(demo_store.root), "--run", "demo", "--out", str(tmp_path / "r.html")]) == 0
    headings = re.compile(r"<h2>(.*?)</h2>")
    assert headings.findall(page) == headings.findall((tmp_path / "r.html").read_text()) != []
