"""Server-side render time of every dashboard page at OLMoE scale, measured headlessly with AppTest.

Builds a synthetic store in a temporary folder (10 checkpoints x 4 groups x 2,500 samples x
16 layers x 64 experts, per-token top-8 routing for 40 samples of 256 tokens) by writing the
store's own Parquet shards, then renders each page twice: the first render (cold caches) and
a cached rerun. The issue's bar: under 3 s per page at this scale once cached.
Run: `python benchmarks/bench_dashboard.py [--keep DIR]`.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the store here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp) / "data"
        start = time.perf_counter()
        if not (root / "store.json").exists():
            build_store(root)
        print(f"store ready in {time.perf_counter() - start:.1f} s: {N} samples x {STEPS} checkpoints x {L} x {E}")
        slowest = 0.0
        for label, (first, cached) in render_all(root).items():
            slowest = max(slowest, cached)
            print(f"{label:38s} first {first:6.2f} s   cached {cached:5.2f} s")
        print(f"slowest cached render: {slowest:.2f} s ({'within' if slowest < 3 else 'OVER'} the 3 s bar)")


if __name__ == "__main__":
    main()
