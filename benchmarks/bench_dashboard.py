"""Server-side render time of every dashboard page at OLMoE scale, measured headlessly with AppTest.

Builds a synthetic store in a temporary folder (10 checkpoints x 4 groups x 2,500 samples x
16 layers x 64 experts, per-token top-8 routing for 40 samples of 256 tokens) by writing the
store's own Parquet shards, then renders each page twice: the first render (cold caches) and
a cached rerun. The issue's bar: under 3 s per page at this scale once cached. Then the Compare
runs page on four smaller synthetic runs (8 layers x 16 experts, 600 samples, 10 checkpoints each,
analysed without maps and with 100 bootstrap resamples; about a minute to build), first render and
cached rerun. Run: `python benchmarks/bench_dashboard.py [--keep DIR] [--no-compare]`; with `--keep DIR`
on a store that exists (the 40,000-sample one `bench_scale.py --keep DIR` leaves), that store is
rendered as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grokviz.inputs.checkpoints import Checkpoint  # noqa: E402
from grokviz.store import shards  # noqa: E402
from grokviz.store.layout import Store, atomic_write_table  # noqa: E402

N, L, E, K, STEPS, TOKEN_SAMPLES, TOKENS = 10_000, 16, 64, 8, 10, 40, 256
PAGES = ("memorization", "pathways", "map", "grokking", "inspector", "health")


def _samples(store: Store, run: str, ids: list[str]) -> None:
    frame = pd.DataFrame({"sample_id": ids, "group": [f"g{i % 4}" for i in range(N)], "split": "train",
                          "prompt": None, "text": [f"sample {i} w{i % 97}" for i in range(N)]})
    atomic_write_table(store.run_dir(run) / "samples.parquet",
                       shards.samples_file(run, frame, np.full(N, TOKENS), np.zeros(N, bool)))


def _token_table(run: str, step: int, ids: list[str], rng) -> pa.Table:
    parts = [shards.tokens_part(run, step, sample_id, np.zeros(TOKENS, np.int32), ["w"] * TOKENS,
                                rng.integers(0, E, (TOKENS, L, K)), rng.uniform(0, 0.2, (TOKENS, L, K)))
             for sample_id in ids[:TOKEN_SAMPLES]]
    return pa.concat_tables(parts)


def build_store(root: Path, run: str = "olmoe-scale") -> Store:
    """Write the synthetic run straight into the store layout (no model, no torch)."""
    rng = np.random.default_rng(0)
    store = Store(root)
    store.write_run_info(run, {"model_type": "olmoe", "n_layers": L, "n_experts": E, "top_k": K, "vocab_size": 50304},
                         {"synthetic": "benchmarks/bench_dashboard.py"})
    ids = [f"x{i:05d}" for i in range(N)]
    _samples(store, run, ids)
    base = rng.dirichlet(np.full(E, 0.3), size=(N, L)).astype(np.float32)  # (N, L, E)
    for s in range(STEPS):
        step = 5000 * (s + 1)
        dist = 0.7 * base + 0.3 * rng.dirichlet(np.full(E, 0.3), size=(N, L)).astype(np.float32)
        shard = store.shard_dir(run, step, (0, 1), partial=True)
        atomic_write_table(shard / "part-00000.samples.parquet", shards.samples_part(
            run, step, ids, rng.uniform(0.5, 3, N), np.full(N, TOKENS), dist))
        atomic_write_table(shard / "part-00000.tokens.parquet", _token_table(run, step, ids, rng))
        atomic_write_table(store.step_dir(run, step) / "checkpoint.parquet", shards.checkpoint_file(
            run, Checkpoint(step=step, tokens=step * 4_000_000, path="synthetic")))
        store.finish_shard(run, step, (0, 1))
    return store


def render_all(store_root: Path) -> dict[str, tuple[float, float]]:
    """(first render, cached rerun) seconds per page and per heavy Sankey setting."""
    os.environ["GROKVIZ_STORE"] = str(store_root)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "grokviz" / "dashboard" / "app.py"), default_timeout=300)
    times = {}

    def timed(label: str) -> None:
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        start = time.perf_counter()
        at.run()
        times[label] = (first, time.perf_counter() - start)
        assert not at.exception, (label, at.exception[0].message)

    timed("overview")
    for page in PAGES:
        at.switch_page(f"views/{page}.py")
        timed(page)
    at.switch_page("views/pathways.py").run()
    for flow in ("token-topk", "sample-argmax", "sample-tau"):
        at.selectbox(key="w.flow").set_value(flow)
        timed(f"pathways {flow}")
    at.select_slider(key="w.topn").set_value(E)
    timed("pathways sample-tau, all 64 experts")
    at.radio(key="w.source").set_value("sample")
    timed("pathways one sample, sample-tau, all 64")
    return times


def build_compare_store(root: Path, runs: int = 4) -> Store:
    """`runs` small synthetic runs with a finished analysis (what the Compare runs page overlays)."""
    from grokviz.analysis.run import analyze
    from grokviz.config import AnalyzeConfig
    from grokviz.synthetic.runs import SyntheticSpec, write_synthetic

    store = Store(root)
    for i in range(runs):
        spec = SyntheticSpec(run=f"syn{i}", checkpoints=10, groups=3, samples=200, items=50, layers=8, experts=16,
                             top_k=2, seed=i)
        write_synthetic(store, spec)
        analyze(AnalyzeConfig(run=spec.run, projection=False, bootstrap=100, permutations=100, nulls=False), store,
                progress=False)
    return store


def render_compare(store_root: Path, runs: list[str]) -> tuple[float, float]:
    """(first render, cached rerun) seconds of the Compare runs page showing `runs`."""
    os.environ["GROKVIZ_STORE"] = str(store_root)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "grokviz" / "dashboard" / "app.py"), default_timeout=300)
    at.query_params = {"runs": ",".join(runs)}
    at.run()
    at.switch_page("views/compare.py")
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    start = time.perf_counter()
    at.run()
    cached = time.perf_counter() - start
    assert not at.exception, at.exception[0].message
    assert len(at.get("plotly_chart")) == 4, "the compare page should show its four figures"
    return first, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the store here and keep it")
    parser.add_argument("--no-compare", action="store_true", help="skip the Compare runs page (4 runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp) / "data"
        start = time.perf_counter()
        if (root / "store.json").exists():
            print(f"using the store at {root} as it is (e.g. the one `bench_scale.py --keep` leaves)")
        else:
            build_store(root)
            print(f"store built in {time.perf_counter() - start:.1f} s: {N} samples x {STEPS} checkpoints x {L} x {E}")
        slowest = 0.0
        for label, (first, cached) in render_all(root).items():
            slowest = max(slowest, cached)
            print(f"{label:38s} first {first:6.2f} s   cached {cached:5.2f} s")
        print(f"slowest cached render: {slowest:.2f} s ({'within' if slowest < 3 else 'OVER'} the 3 s bar)")
        if not args.no_compare:
            compare_root = Path(args.keep or tmp) / "compare"
            start = time.perf_counter()
            store = Store(compare_root) if (compare_root / "store.json").exists() else build_compare_store(compare_root)
            print(f"compare store ready in {time.perf_counter() - start:.1f} s: {len(store.runs())} runs")
            first, cached = render_compare(compare_root, store.runs()[:4])
            print(f"{'compare runs, 4 runs':38s} first {first:6.2f} s   cached {cached:5.2f} s")


if __name__ == "__main__":
    main()
