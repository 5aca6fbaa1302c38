"""Pathway-distance cost at OLMoE scale: rapidfuzz all-pairs mean against a pure-Python DP.

    python benchmarks/bench_distance.py [--n 1000 --dp-pairs 300 --seed 0]

1. Builds `--n` synthetic OLMoE-length pathways (16 layers, 64 experts, tau = 0.7 on
   Dirichlet router distributions: about 6-14 experts per layer, about 500-550 characters).
   Samples come in five families; a third of them share their family's first four layers
   exactly, so some pathways share prefixes, as memorised samples of one group do.
2. Times the exact mean over all n(n-1)/2 unordered pairs with
   `distance.mean_pairwise_distance` (workers=-1, then workers=1), and a sampled estimate.
3. Times a textbook dynamic-programming Levenshtein in pure Python on `--dp-pairs` random
   pairs, checks it agrees with rapidfuzz on them, and extrapolates it to all pairs.
4. Times `pathways.pathway_strings` on 40,000 x 16 x 64 float32 distributions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grokviz.metrics import distance, pathways

N_LAYERS, N_EXPERTS, SHARED_LAYERS, N_FAMILIES = 16, 64, 4, 5
ALPHA = 0.16  # Dirichlet concentration: about 12 experts per layer at tau = 0.7, ~550 characters


def synthetic_dist(n: int, seed: int) -> np.ndarray:
    """(n, 16, 64) float32 router distributions in families with shared early layers."""
    rng = np.random.default_rng(seed)
    base = rng.dirichlet(np.full(N_EXPERTS, ALPHA), size=(N_FAMILIES, N_LAYERS))  # (F, L, E)
    own = rng.dirichlet(np.full(N_EXPERTS, ALPHA), size=(n, N_LAYERS))  # (n, L, E)
    family = rng.integers(0, N_FAMILIES, size=n)
    dist = 0.5 * base[family] + 0.5 * own  # (n, L, E)
    sharing = rng.random(n) < 1 / 3
    dist[sharing, :SHARED_LAYERS] = base[family[sharing], :SHARED_LAYERS]
    return dist.astype(np.float32)


def slow_levenshtein(a: str, b: str) -> int:
    """Textbook dynamic programme, one row at a time."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="pathways (default 1000)")
    parser.add_argument("--dp-pairs", type=int, default=300, help="pairs timed with the pure-Python DP")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-strings", action="store_true", help="skip the 40,000-sample pathway_strings timing")
    args = parser.parse_args()

    paths = pathways.pathway_strings(synthetic_dist(args.n, args.seed), tau=0.7)
    lengths = np.array([len(p) for p in paths])
    per_layer = np.mean([len(layer.split(",")) for p in paths for layer in p.split("-")])
    n_pairs = args.n * (args.n - 1) // 2
    print(f"machine: {os.cpu_count()} CPUs visible")
    print(f"pathways: {args.n}, {len(set(paths))} distinct, {per_layer:.1f} experts/layer, "
          f"length mean {lengths.mean():.0f} (min {lengths.min()}, max {lengths.max()}) chars")

    exact, t_all = timed(lambda: distance.mean_pairwise_distance(paths, workers=-1))
    exact1, t_one = timed(lambda: distance.mean_pairwise_distance(paths, workers=1))
    assert exact == exact1
    print(f"exact mean over {n_pairs:,} pairs: {exact.value:.2f}")
    print(f"  rapidfuzz workers=-1: {t_all:.2f} s  ({t_all / n_pairs * 1e6:.2f} us/pair)")
    print(f"  rapidfuzz workers=1:  {t_one:.2f} s  (x{t_one / t_all:.2f} of workers=-1)")
    sampled, t_sampled = timed(lambda: distance.mean_pairwise_distance(paths, max_pairs=20_000, seed=1))
    print(f"  sampled 20,000 pairs: {sampled.value:.2f} +- {sampled.stderr:.2f} in {t_sampled:.2f} s "
          f"(|error| = {abs(sampled.value - exact.value) / sampled.stderr:.1f} stderr)")

    rng = np.random.default_rng(args.seed + 1)
    i = rng.integers(0, args.n, size=args.dp_pairs)
    j = (i + rng.integers(1, args.n, size=args.dp_pairs)) % args.n  # j != i
    slow, t_dp = timed(lambda: [slow_levenshtein(paths[a], paths[b]) for a, b in zip(i, j)])
    fast = distance.pairwise_distances([paths[a] for a in i] + [paths[b] for b in j])
    assert slow == [int(fast[k, args.dp_pairs + k]) for k in range(args.dp_pairs)], "DP disagrees with rapidfuzz"
    t_dp_all = t_dp / args.dp_pairs * n_pairs
    print(f"pure-Python DP: {t_dp / args.dp_pairs * 1e3:.1f} ms/pair on {args.dp_pairs} pairs (agree with "
          f"rapidfuzz); all pairs extrapolated: {t_dp_all:,.0f} s = {t_dp_all / 3600:.1f} h")
    print(f"speed-up of rapidfuzz workers=-1 over the DP: x{t_dp_all / t_all:,.0f}")

    if not args.skip_strings:
        big = synthetic_dist(40_000, args.seed)
        strings, t_strings = timed(lambda: pathways.pathway_strings(big, tau=0.7))
        print(f"pathway_strings on 40,000 x 16 x 64 float32: {t_strings:.2f} s "
              f"(mean length {np.mean([len(s) for s in strings]):.0f})")


if __name__ == "__main__":
    main()
