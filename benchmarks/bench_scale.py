"""Analysis at OLMoE scale: wall time and peak memory per stage, a full run and an incremental one.

    python benchmarks/bench_scale.py [--samples 10000] [--keep DIR] [--json OUT]

Builds a synthetic store (`grokviz synthetic`: 11 checkpoints x 4 groups x N samples per group x
16 layers x 64 experts, top-8) and hides its last checkpoint. Then, each in its own child process
watched by a small wrapper whose `getrusage(RUSAGE_CHILDREN).ru_maxrss` is that child's peak RSS:

1. baseline: only read every checkpoint's distributions (`tables.read_step`, one at a time, as
   analyze does): what touching the data costs;
2. full: `grokviz analyze --no-pairing` from an empty cache (projection, nulls and validity on);
3. incremental: the 11th checkpoint arrives, `grokviz analyze` again: only its part, the groups
   whose members changed and the cross-checkpoint stages are computed.

Before them, a warm-up process fits two tiny maps: the first process on a machine compiles
umap-learn's numba functions and caches them on disk (grokviz turns that cache on), as a user's
first analysis does; its time is printed apart. Stage times, the peak memory after each stage and
the pair distances computed and reused come from the DEBUG lines of the `grokviz.analysis.stages`
logger. The synthetic store has no test items, so the pairing stage
(sentence embeddings) has nothing to do here. Targets (issue 14, 2 cores): full at N=10,000 at
most 150 s and 2 GiB, incremental at most 25% of full, full at N=2,500 at most 90 s. Times move
with the machine and its load: compare the ratios, which are measured in one run.
`--keep DIR` keeps the store at DIR/data (`benchmarks/bench_dashboard.py --store DIR/data` renders
the dashboard on it).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = "olmoe-scale"
CHECKPOINTS = 11
MIB = 1024
# One child per stage; its peak RSS is the only child this wrapper ever waits for.
WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "wall_s": time.perf_counter() - started,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stdout": done.stdout[-4000:], "stderr": done.stderr[-40000:]}))
"""
BASELINE = """
import sys
from grokviz.store.layout import Store
from grokviz.store.tables import read_checkpoints, read_step
store = Store(sys.argv[1], create=False)
rows = sum(len(read_step(store, sys.argv[2], c.step)[0]) for c in read_checkpoints(store, sys.argv[2]))
print(f"read {rows} (sample, checkpoint) rows")
"""
ANALYZE = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(message)s")
logging.getLogger("grokviz.analysis.stages").setLevel(logging.DEBUG)
from grokviz.cli import main
sys.exit(main(sys.argv[1:]))
"""
STAGE_LINE = re.compile(r"analyze stage (\w+): ([\d.]+) s, peak RSS so far ([\d.]+|nan) MiB")
COUNT_LINE = re.compile(r"analyze count ([\w ]+): (\d+)")
WARM_UP = """
import numpy as np
from grokviz.analysis.projection import step_map
vectors = (np.random.default_rng(0).random((60, 64)) < 0.2).astype(np.float32)
step_map(vectors, 0, step_map(vectors, 0))
"""


def measure(command: list[str]) -> dict:
    """Run `command` under the wrapper: exit code, wall seconds, peak RSS (KiB), output tails."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{result['stderr'][-3000:]}")
    return result


def analyze_stages(stderr: str) -> dict[str, dict[str, float]]:
    """Per analyze stage: seconds summed over its DEBUG lines, and the largest peak RSS seen after it."""
    stages: dict[str, dict[str, float]] = {}
    for name, seconds, rss in STAGE_LINE.findall(stderr):
        entry = stages.setdefault(name, {"wall_s": 0.0, "peak_mib": 0.0})
        entry["wall_s"] += float(seconds)
        entry["peak_mib"] = max(entry["peak_mib"], float(rss))
    return stages


def counts(stderr: str) -> dict[str, int]:
    """Tallies of an analyze run (pair distances computed, reused), summed over its DEBUG lines."""
    out: dict[str, int] = {}
    for name, n in COUNT_LINE.findall(stderr):
        out[name] = out.get(name, 0) + int(n)
    return out


def run_stages(root: Path, samples: int) -> dict[str, dict]:
    from grokviz.store.layout import Store
    from grokviz.synthetic.runs import SyntheticSpec

    py = sys.executable
    results = {}
    last = Store(root, create=True).step_dir(RUN, SyntheticSpec(checkpoints=CHECKPOINTS).steps[-1])
    aside = root.parent / "last-checkpoint"
    if not (root / "runs" / RUN).exists():
        results["synthetic write"] = measure([py, "-m", "grokviz", "synthetic", "--store", str(root), "--run", RUN,
                                              "--samples", str(samples), "--checkpoints", str(CHECKPOINTS),
                                              "--groups", "4"])
    if last.exists():
        shutil.move(last, aside)
    shutil.rmtree(root / "runs" / RUN / "analysis", ignore_errors=True)  # full = from an empty cache
    try:
        results["warm-up: compile umap once"] = measure([py, "-c", WARM_UP])
        results["baseline: read 10 checkpoints"] = measure([py, "-c", BASELINE, str(root), RUN])
        results["full analyze"] = measure([py, "-c", ANALYZE, "analyze", "--store", str(root), "--run", RUN,
                                           "--no-pairing", "--quiet"])
    finally:
        shutil.move(aside, last)
    results["incremental: +1 checkpoint"] = measure([py, "-c", ANALYZE, "analyze", "--store", str(root),
                                                     "--run", RUN, "--no-pairing", "--quiet"])
    return results


def report(results: dict[str, dict], samples: int) -> dict:
    """Print the tables; return the numbers (also written with --json)."""
    print(f"{CHECKPOINTS - 1} (+1) checkpoints x 4 groups x {samples:,} samples ({4 * samples:,}) x 16 layers x 64 "
          "experts; times move with the machine and its load, the ratios less")
    for name, r in results.items():
        print(f"{name:30s} wall {r['wall_s']:8.1f} s   peak RSS {r['maxrss_kib'] / MIB / 1024:6.2f} GiB")
    full, base, more = results["full analyze"], results["baseline: read 10 checkpoints"], \
        results["incremental: +1 checkpoint"]
    stages = {label: analyze_stages(r["stderr"]) for label, r in (("full", full), ("incremental", more))}
    tallies = {label: counts(r["stderr"]) for label, r in (("full", full), ("incremental", more))}
    print(f"  {'stage':14s} {'full s':>9s} {'peak MiB':>9s} {'incr. s':>9s}")
    for name, entry in sorted(stages["full"].items(), key=lambda kv: -kv[1]["wall_s"]):
        again = stages["incremental"].get(name, {}).get("wall_s", 0.0)
        print(f"  {name:14s} {entry['wall_s']:9.1f} {entry['peak_mib']:9.0f} {again:9.1f}")
    for label, tally in tallies.items():
        print(f"  pair distances, {label}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tally.items())))
    ratios = {"full / baseline time": full["wall_s"] / base["wall_s"],
              "full / baseline peak RSS": full["maxrss_kib"] / base["maxrss_kib"],
              "incremental / full time": more["wall_s"] / full["wall_s"]}
    for name, value in ratios.items():
        print(f"{name}: x{value:.2f}")
    limit_s = 150 if samples >= 10_000 else 90
    targets = {f"full <= {limit_s} s": full["wall_s"] <= limit_s,
               "full <= 2 GiB": full["maxrss_kib"] <= 2 * MIB * MIB,
               "incremental <= 25% of full": ratios["incremental / full time"] <= 0.25}
    print("targets: " + "; ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in targets.items()))
    return {"samples_per_group": samples, "runs": {k: {"wall_s": v["wall_s"], "maxrss_kib": v["maxrss_kib"]}
                                                   for k, v in results.items()},
            "analyze_stages": stages, "pair_counts": tallies, "ratios": ratios, "targets": targets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000, help="samples per group (4 groups)")
    parser.add_argument("--keep", help="build (or reuse) the store at KEEP/data and keep it")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp) / "data"
        numbers = report(run_stages(root, args.samples), args.samples)
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    main()
