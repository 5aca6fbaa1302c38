"""Adding a checkpoint to an analysed run reuses every earlier checkpoint's cached part, and the
result is the full recomputation's, table by table."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from grokviz import names
from grokviz.analysis.run import analyze
from grokviz.config import AnalyzeConfig
from grokviz.store.analyses import read_analysis
from grokviz.store.layout import Store
from grokviz.synthetic.runs import SyntheticSpec, write_synthetic

SPEC = SyntheticSpec(run="inc", checkpoints=5, groups=2, samples=40, items=30, layers=4, experts=8, top_k=2,
                     d_model=16, token_route_samples=2, tokens_per_sample=8)
CONFIG = AnalyzeConfig(run="inc", pairing=False, bootstrap=100, permutations=100, projection_samples=60)
# pair budgets below every domain's pair count: distances are estimated from sampled pairs
SAMPLED = AnalyzeConfig(run="inc", pairing=False, bootstrap=100, permutations=100, projection_samples=60,
                        max_pairs=120, layer_max_pairs=50)


def _entries(store: Store) -> dict[str, int]:
    folder = store.run_dir("inc") / "analysis" / "steps"
    assert folder.is_dir()
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")}


def _tables(store: Store) -> dict[str, pd.DataFrame]:
    return {name: read_analysis(store, "inc", name) for name in names.ANALYSIS_TABLES}


@pytest.fixture(scope="module", params=[CONFIG, SAMPLED], ids=["exact", "sampled"])
def grown(tmp_path_factory, request):
    """A run analysed at four checkpoints, then again once its fifth arrived."""
    root = tmp_path_factory.mktemp("incremental")
    store = Store(root / "data")
    write_synthetic(store, SPEC)
    last = store.step_dir("inc", SPEC.steps[-1])
    shutil.move(last, root / "aside")
    first = analyze(request.param, store, progress=False)
    before = _entries(store)
    shutil.move(root / "aside", last)
    report = analyze(request.param, store, progress=False)
    return store, before, _entries(store), report, request.param, first


def test_earlier_checkpoints_keep_their_cached_pathways_and_maps(grown):
    store, before, after, report = grown[:4]
    assert not report.cached
    last = f"step={SPEC.steps[-1]:09d}"
    for kind in ("part", "map"):
        old = {n: t for n, t in before.items() if n.startswith(f"{kind}-")}
        assert len(old) == SPEC.checkpoints - 1
        assert all(after.get(n) == t for n, t in old.items()), f"a {kind} entry of an earlier checkpoint was redone"
        new = [n for n in after if n.startswith(f"{kind}-") and n not in before]
        assert len(new) == 1 and last in new[0]


def test_the_grown_analysis_equals_a_full_recomputation(grown, tmp_path):
    store, config = grown[0], grown[4]
    shutil.copytree(store.root, tmp_path / "data", ignore=shutil.ignore_patterns("analysis"))  # inputs only
    fresh = Store(tmp_path / "data", create=False)
    report = analyze(config, fresh, progress=False)
    assert not report.cached and report.key == grown[3].key
    ours, theirs = _tables(store), _tables(fresh)
    for name in names.ANALYSIS_TABLES:
        assert len(ours[name]) or name in ("pairs",), f"{name} is empty"
        pd.testing.assert_frame_equal(ours[name], theirs[name], obj=name)


@pytest.mark.parametrize("grown", [SAMPLED], ids=["sampled"], indirect=True)
def test_sampled_pairs_computed_before_are_reused(grown):
    """Group members move when a checkpoint arrives (t* is judged against the last one); the pairs
    sampled from them move little, so most distances at earlier checkpoints are read, not computed."""
    store, before, after, report, config, first = grown
    assert first.counts["pairs computed"] > 0 and first.counts["pairs reused"] == 0
    # the new checkpoint's pairs are all computed; at the four earlier ones, in this tiny run (40
    # samples a group, so a moved member is a large share), more than half of what they needed before
    assert report.counts["pairs reused"] > 0.5 * first.counts["pairs computed"]
    assert any(n.startswith("pairs_path-") for n in after)
