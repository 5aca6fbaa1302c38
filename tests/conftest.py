"""Shared fixtures: tiny random MoE checkpoint series, sample files and real stores, built offline.

Every model is built from a config and saved to a tmp folder (never mocked, never downloaded).
Stores, from small to rich: `small_store` (a real extraction, no analysis), `analyzed_store`
(the same plus held-out accuracy and a real `analyze`), `demo_store` (`grokviz demo --quick`:
a trained model, its checkpoints, accuracy, extraction and analysis: what the dashboard tests
read), `compare_store` (the demo run and a second seed), `variant_store` (plus a 3-layer variant),
`one_checkpoint_store`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from factories import copy_store, sample_rows, synthetic_accuracy, write_jsonl


@pytest.fixture(scope="session")
def series_factory(tmp_path_factory):
    """`series_factory(family, **config_overrides)` -> folder holding step100/200/300."""
    from grokviz.synthetic.tiny import save_series

    cache: dict[tuple, Path] = {}

    def make(family: str = "olmoe", steps=(100, 200, 300), **overrides) -> Path:
        key = (family, tuple(steps), repr(sorted(overrides.items())))
        if key not in cache:
            root = tmp_path_factory.mktemp(f"series-{family}")
            save_series(root, family, steps=steps, **overrides)
            cache[key] = root
        return cache[key]

    return make


@pytest.fixture
def samples_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "samples.jsonl", sample_rows())


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, series_factory):
    """A real store from a real extraction of a tiny OLMoE series (3 checkpoints, 12 samples)."""
    from grokviz.config import ExtractConfig
    from grokviz.extract.run import extract
    from grokviz.store.layout import Store

    root = tmp_path_factory.mktemp("store")
    samples = write_jsonl(root / "samples.jsonl", sample_rows())
    store = Store(root / "data")
    extract(ExtractConfig(run="tiny", model=str(series_factory("olmoe")), samples=str(samples),
                          token_routes=3), store, progress=False)
    return store


@pytest.fixture(scope="session")
def analyzed_store(tmp_path_factory, small_store):
    """A copy of `small_store` with held-out accuracy and a finished analysis."""
    import shutil

    from grokviz.analysis.run import analyze
    from grokviz.config import AnalyzeConfig
    from grokviz.store.appended import append_table
    from grokviz.store.layout import Store
    from grokviz.store.schemas import ACCURACY_SCHEMA
    from grokviz.store.tables import read_samples_table

    root = tmp_path_factory.mktemp("analyzed") / "data"
    shutil.copytree(small_store.root, root)
    store = Store(root)
    samples = read_samples_table(store, "tiny")
    items = {g: f["sample_id"].tolist() for g, f in samples.groupby("group")}
    append_table(store, "tiny", "accuracy", synthetic_accuracy("tiny", items, [100, 200, 300]),
                 schema=ACCURACY_SCHEMA, part="held-out")
    analyze(AnalyzeConfig(run="tiny", eps=5.0, delta=5.0, max_pairs=1000), store, progress=False)  # all settle at once
    return store


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """`grokviz demo --quick`: real training, checkpoints, accuracy, extraction and analysis (run "demo")."""
    from grokviz.cli import main
    from grokviz.store.layout import Store

    root = tmp_path_factory.mktemp("demo") / "data"
    assert main(["demo", "--store", str(root), "--quick", "--quiet"]) == 0
    return Store(root, create=False)


@pytest.fixture(scope="session")
def one_checkpoint_store(small_store, tmp_path_factory):
    """The small store with only its first checkpoint."""
    import shutil

    store = copy_store(small_store, tmp_path_factory.mktemp("one") / "data")
    for step_dir in sorted((store.run_dir("tiny") / "checkpoints").glob("step=*"))[1:]:
        shutil.rmtree(step_dir)
    return store


@pytest.fixture(scope="session")
def compare_store(tmp_path_factory, demo_store):
    """Two quick-demo runs that differ only in their seed: a copy of `demo_store` (run "demo", seed 0)
    plus `grokviz demo --quick --run seed1 --seed 1` (one build less than building both here)."""
    from grokviz.cli import main

    store = copy_store(demo_store, tmp_path_factory.mktemp("compare") / "data")
    assert main(["demo", "--store", str(store.root), "--quick", "--quiet", "--run", "seed1", "--seed", "1"]) == 0
    return store


@pytest.fixture(scope="session")
def variant_store(tmp_path_factory, compare_store):
    """A copy of `compare_store` plus a 3-layer variant built beside its runs: `grokviz demo --quick
    --run v --layers 3`."""
    from grokviz.cli import main

    store = copy_store(compare_store, tmp_path_factory.mktemp("variant") / "data")
    assert main(["demo", "--store", str(store.root), "--quick", "--quiet", "--run", "v", "--layers", "3"]) == 0
    return store
