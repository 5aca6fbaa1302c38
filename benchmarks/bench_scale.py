"""Analysis at OLMoE scale: wall time and peak memory per stage, against reading the data once.

    python benchmarks/bench_scale.py [--samples 10000] [--keep DIR] [--json OUT]

Builds a synthetic store (`grokviz synthetic`: 10 checkpoints x 4 groups x N samples per group x
16 layers x 64 experts, top-8) in a temporary folder, then runs `grokviz analyze --no-pairing`
(projection on, default settings) in a subprocess. Each stage runs in its own child process,
watched by a small wrapper process whose `getrusage(RUSAGE_CHILDREN).ru_maxrss` is that stage's
peak RSS alone. The baseline stage only reads every checkpoint's distributions
(`tables.read_step` for every step, one at a time, as analyze does); the ratios analyze/baseline
say what the analysis costs beyond touching the data. Stage times inside analyze come from the
DEBUG lines of the `grokviz.analysis.run` logger. Targets: analyze under 10 min and 8 GiB at
N=10,000; under 4 GiB at N=2,500. `--keep DIR` keeps the store at DIR/data (reused when it exists;
`benchmarks/bench_dashboard.py --keep DIR` then renders the dashboard on it).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = "olmoe-scale"
GIB = 1024 ** 3
# One child per stage; its peak RSS is the only child this wrapper ever waits for.
WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "wall_s": time.perf_counter() - started,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "stdout": done.stdout[-4000:], "stderr": done.stderr[-20000:]}))
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
logging.getLogger("grokviz.analysis.run").setLevel(logging.DEBUG)
from grokviz.cli import main
sys.exit(main(sys.argv[1:]))
"""
STAGE_LINE = re.compile(r"analyze stage (\w+): ([\d.]+) s")


def measure(command: list[str]) -> dict:
    """Run `command` under the wrapper: exit code, wall seconds, peak RSS (KiB), output tails."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{result['stderr'][-3000:]}")
    return result


def analyze_stages(stderr: str) -> dict[str, float]:
    """Seconds per analyze stage, summed over the DEBUG lines of each stage."""
    stages: dict[str, float] = {}
    for name, seconds in STAGE_LINE.findall(stderr):
        stages[name] = stages.get(name, 0.0) + float(seconds)
    return stages


def run_stages(root: Path, samples: int) -> dict[str, dict]:
    py = sys.executable
    results = {}
    if not (root / "store.json").exists():
        results["synthetic write"] = measure([py, "-m", "grokviz", "synthetic", "--store", str(root), "--run", RUN,
                                              "--samples", str(samples), "--checkpoints", "10", "--groups", "4"])
    results["baseline: read_step x 10"] = measure([py, "-c", BASELINE, str(root), RUN])
    results["analyze --no-pairing"] = measure([py, "-c", ANALYZE, "analyze", "--store", str(root), "--run", RUN,
                                               "--no-pairing", "--force", "--quiet"])
    return results


def report(results: dict[str, dict], samples: int) -> dict:
    """Print the table; return the numbers (also written with --json)."""
    print(f"10 checkpoints x 4 groups x {samples:,} samples ({4 * samples:,} samples) x 16 layers x 64 experts")
    for name, r in results.items():
        print(f"{name:28s} wall {r['wall_s']:8.1f} s   peak RSS {r['maxrss_kib'] / 2**20:6.2f} GiB")
    analyze, base = results["analyze --no-pairing"], results["baseline: read_step x 10"]
    stages = analyze_stages(analyze["stderr"])
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  analyze stage {name:14s} {seconds:8.1f} s")
    ratios = {"time": analyze["wall_s"] / base["wall_s"], "rss": analyze["maxrss_kib"] / base["maxrss_kib"]}
    print(f"analyze / baseline: time x{ratios['time']:.1f}, peak RSS x{ratios['rss']:.1f}")
    limit_gib = 8 if samples >= 10_000 else 4
    ok = analyze["wall_s"] < 600 and analyze["maxrss_kib"] * 1024 < limit_gib * GIB
    print(f"targets (< 10 min, < {limit_gib} GiB): {'met' if ok else 'MISSED'}")
    return {"samples_per_group": samples, "stages": {k: {"wall_s": v["wall_s"], "maxrss_kib": v["maxrss_kib"]}
                                                     for k, v in results.items()},
            "analyze_stages_s": stages, "ratios": ratios, "targets_met": ok}


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
