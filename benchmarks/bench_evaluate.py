"""Evaluation speed on CPU: multiple-choice and exact-answer items per second, tiny OLMoE.

    python benchmarks/bench_evaluate.py [--repeats 3]

Builds a tiny random OLMoE series (3 layers, 8 experts, top-2; word-level tokenizer), extracts
a few samples so the run exists, then evaluates the 80 bundled multiple-choice items (4 options
each) and the 80 exact-answer items (8 new tokens) at one checkpoint, `repeats` times each into
fresh runs. Reports items/s of the scoring alone (model loading excluded), the median.
Measures grokviz's batching and bookkeeping overhead, not a real model's speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grokviz.config import EvaluateConfig, ExtractConfig  # noqa: E402
from grokviz.evaluate.run import evaluate  # noqa: E402
from grokviz.extract.run import extract  # noqa: E402
from grokviz.store.layout import Store  # noqa: E402
from grokviz.synthetic.tiny import save_series  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grokviz-bench-"))
    save_series(work / "series", "olmoe", steps=(100,))
    samples = work / "samples.jsonl"
    samples.write_text("".join(ROOT.joinpath("data/samples/pretrain.jsonl").read_text().splitlines(True)[:8]))
    store = Store(work / "data")
    for kind, tests, extra in (("choice", "tests_choice.jsonl", {}),
                               ("exact", "tests_exact.jsonl", {"max_new_tokens": 8})):
        rates = []
        for repeat in range(args.repeats):
            run = f"{kind}-{repeat}"
            extract(ExtractConfig(run=run, model=str(work / "series"), samples=str(samples)), store, progress=False)
            report = evaluate(EvaluateConfig(run=run, tests=str(ROOT / "data/samples" / tests), kind=kind, **extra),
                              store, progress=False)
            rates.append(report.items_per_second)
        print(f"{kind}: {statistics.median(rates):.0f} items/s (median of {args.repeats}; "
              f"{', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
