"""Demo variants: does the pathway signal depend on the MoE's shape? One full demo per variant.

Each variant is the default `DemoConfig` with one change the paper's theory suggests could matter
(more experts, more layers, top-1 routing, a router load-balancing loss, a smaller learning rate). Each is built end to end
with the real `build_demo` (train, save checkpoints, extract, analyze without the maps) into its own store under
--out, and its per-task findings (`grokviz.demo.findings`) are written to OUT/VARIANT.md and
printed: when each task memorised and generalised, and the Pearson / Spearman correlation of
pathway distance, consistency and training loss with held-out accuracy (plus each metric's
Pearson with the step, a time-trend control).

Run: `python benchmarks/demo_variants.py --out /tmp/variants [--only NAME ...] [--threads 1]`
(about 3-6 minutes per variant on 2 cores; two processes with --only and --threads 1 share them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grokviz.demo.build import build_demo  # noqa: E402
from grokviz.demo.findings import to_markdown  # noqa: E402
from grokviz.demo.train import DemoConfig  # noqa: E402
from grokviz.store.layout import Store  # noqa: E402

VARIANTS: dict[str, dict[str, object]] = {
    "default (2 layers x 8 experts, top-2)": {},
    "16 experts": {"num_experts": 16},
    "3 layers": {"num_layers": 3},
    "4 layers": {"num_layers": 4},
    "top-1": {"top_k": 1},
    "router aux loss 0.01": {"router_aux_loss": 0.01},
    "lr 1e-3 (no loss spikes)": {"lr": 1e-3},
}
SHOWN = ["task", "memorized_at", "generalised_at", "distance_pearson", "distance_spearman", "distance_vs_step",
         "consistency_pearson", "consistency_spearman", "consistency_vs_step", "mean_cosine_pearson",
         "mean_cosine_spearman", "mean_cosine_vs_step", "training_loss_pearson",
         "training_loss_spearman"]


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.split(" (")[0]).strip("-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for one store and one report per variant")
    parser.add_argument("--only", nargs="*", help="variant slugs to run (default: all): " + ", ".join(map(slug, VARIANTS)))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, overrides in VARIANTS.items():
        if args.only and slug(name) not in args.only:
            continue
        config = DemoConfig(threads=args.threads, **overrides)  # type: ignore[arg-type]
        started = time.perf_counter()
        report = build_demo(Store(out / slug(name)), run="demo", config=config, progress=False, projection=False)
        table = report.findings[SHOWN]
        text = (f"### {name}\n\n{overrides or 'DemoConfig()'}; {time.perf_counter() - started:.0f} s end to end "
                f"({', '.join(f'{k} {v:.0f} s' for k, v in report.seconds.items())})\n\n{to_markdown(table)}\n")
        (out / f"{slug(name)}.md").write_text(text)
        print(text, flush=True)


if __name__ == "__main__":
    main()
