"""The `grokviz` subcommands `demo | extract | export | analyze | report | app | info | doctor | synthetic`: their
flags (`add_parsers`) and what each runs (`cmd_*`).

Flags map onto the config dataclasses; heavy modules (torch, transformers, streamlit) are
imported only inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING

from grokviz import names
from grokviz.cli.flags import add_config_flags, config_values
from grokviz.cli.registry import command
from grokviz.config.base import RouteSpan
from grokviz.errors import InputError

if TYPE_CHECKING:
    from grokviz.config import ExtractConfig



def parse_shard(text: str) -> tuple[int, int]:
    """`i/n` -> (i, n).

    >>> parse_shard("1/4")
    (1, 4)
    """
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/n, got {text!r}") from None
    return index, count


def parse_token_routes(text: str) -> int | None:
    return None if text == "all" else int(text)


# `grokviz demo` flags -> DemoConfig fields: the shapes benchmarks/demo_variants.py compares.
DEMO_FLAGS = {"layers": (int, "num_layers", "MoE layers"), "experts": (int, "num_experts", "experts per layer"),
              "top-k": (int, "top_k", "experts each token is routed to"),
              "router-aux-loss": (float, "router_aux_loss", "weight of the router load-balancing loss"),
              "lr": (float, "lr", "AdamW learning rate"), "seed": (int, "seed", "data split and initialisation")}

# The dashboard's Streamlit settings, as flags so an installed grokviz needs no .streamlit/ folder.
STREAMLIT_FLAGS = ("--server.headless", "true", "--server.runOnSave", "false",
                   "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
                   "--theme.base", "light")


def add_parsers(sub) -> None:
    """Register the data commands on `grokviz`'s subparsers."""
    _extract_parser(sub)
    export = sub.add_parser("export", help="write one table of a run to Parquet or CSV")
    export.add_argument("--store", default="data")
    export.add_argument("--run", required=True)
    export.add_argument("--table", required=True, choices=sorted(names.EXPORT_COLUMNS))
    export.add_argument("--out", required=True, help="FILE.parquet or FILE.csv")
    _analyze_parser(sub)
    info = sub.add_parser("info", help="list the store's runs, checkpoints and samples")
    info.add_argument("--store", default="data")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    doctor = sub.add_parser("doctor", help="check a store and its checkpoints; remove what killed runs left behind",
                            description="Reads every file the store's tables depend on and reports, one line "
                                        "each: unreadable files, unfinished shards (and whether a writer is live), "
                                        "analyses whose inputs changed, leftovers of killed runs, checkpoints with "
                                        "identical weights and router-weight jumps. Exit status: 0 healthy, 1 "
                                        "findings, 2 bad input.")
    doctor.add_argument("--store", default="data")
    doctor.add_argument("--run", help="check this run only (default: every run)")
    doctor.add_argument("--fix", action="store_true", help="remove leftovers of killed runs that no live writer "
                        "holds; nothing else is changed")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    demo = sub.add_parser("demo", help="train the embedded MoE that groks, then extract + analyze it")
    demo.add_argument("--store", default="data")
    demo.add_argument("--run", default="demo")
    demo.add_argument("--quick", action="store_true", help="a test-sized run (under 2 minutes)")
    demo.add_argument("--quiet", action="store_true")
    shape = demo.add_argument_group("variant", "the model and training of the run (default: the demo's; with "
                                    "--quick they apply on top of the quick settings)")
    for flag, (kind, field, what) in DEMO_FLAGS.items():
        shape.add_argument(f"--{flag}", type=kind, dest=field, metavar="N" if kind is int else "X",
                           help=f"{what} (DemoConfig.{field})")
    app = sub.add_parser("app", help="open the dashboard on a store")
    app.add_argument("--store", default="data")
    app.add_argument("--host", default="localhost", help="address to bind (default: this machine only)")
    app.add_argument("--port", type=int, default=8501)
    app.add_argument("--build-demo", action="store_true", help="build the demo run in the background when the store "
                     "has none (or resume an unfinished build); the dashboard fills in as it lands")
    app.add_argument("--quick", action="store_true", help="with --build-demo: the test-sized demo")
    report = sub.add_parser("report", help="write the meeting report of a run: one HTML file that opens offline")
    report.add_argument("--store", default="data")
    report.add_argument("--run", required=True)
    report.add_argument("--out", required=True, help="FILE.html")
    report.add_argument("--compare", nargs="+", default=(), metavar="RUN",
                        help="also overlay these runs of the store with --run (accuracy, pathway metrics, onsets, "
                             "the settings that differ), as the Compare runs page does")
    synthetic = sub.add_parser("synthetic", help="write a synthetic OLMoE-shaped run (scale tests)")
    synthetic.add_argument("--store", default="data")
    synthetic.add_argument("--run", default="synthetic")
    for flag, default in (("checkpoints", 10), ("groups", 4), ("samples", 2500), ("layers", 16),
                          ("experts", 64), ("top-k", 8), ("seed", 0)):
        synthetic.add_argument(f"--{flag}", type=int, default=default)


def _extract_parser(sub) -> None:
    p = sub.add_parser("extract", help="record losses and routing of a checkpoint series")
    p.add_argument("--model", required=True, help="folder of stepN/ checkpoints, one model "
                   "folder, or a hub id")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--revision", nargs="+", default=(), help="hub branches (stepN-tokensMB)")
    group.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=(),
                       help="comma-separated steps to keep, e.g. 5000,125000")
    p.add_argument("--evenly", type=int, help="keep this many evenly spaced checkpoints")
    p.add_argument("--samples", required=True, help="JSONL, CSV or Parquet of samples")
    p.add_argument("--store", default="data")
    p.add_argument("--run", required=True)
    p.add_argument("--tokenizer", help="tokenizer folder or hub id (default: the checkpoint's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--max-length", type=int, default=2048)
    p.add_argument("--token-budget", type=int, default=16384, help="padded tokens per batch")
    p.add_argument("--token-routes", type=parse_token_routes, default=8,
                   help="per group, keep per-token routes of the first N samples ('all')")
    p.add_argument("--route-span", default="auto", choices=[s.value for s in RouteSpan],
                   help="token positions whose routing is averaged: auto (predicting for samples with a prompt, "
                        "all for plain text), all, predicting (positions whose next token carries loss), or "
                        "completion (default: auto)")
    p.add_argument("--no-token-means", dest="token_means", action="store_false",
                   help="skip each token id's mean routing per checkpoint (then analyze has no token-identity null); "
                        "it grows with the distinct token ids: up to about the routing table's size for plain text")
    p.add_argument("--shard", type=parse_shard, default=(0, 1), help="i/n: this process's share")
    p.add_argument("--part-size", type=int, default=256, help="samples per resumable part")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--ray", type=int, metavar="N", help="run as Ray tasks, one per (checkpoint, shard), "
                   "N shards per checkpoint (pip install grokviz[ray]; uses RAY_ADDRESS or a local cluster)")
    p.add_argument("--ray-gpus", type=float, default=0, metavar="G", help="GPUs per Ray task (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _analyze_parser(sub) -> None:
    from grokviz.config import AnalyzeConfig

    p = sub.add_parser("analyze", help="compute the paper's metrics and the validity checks (cached by settings)",
                       description="Every method setting starts from --preset (paper by default) and can be "
                                   "overridden one by one; the analysis records which differ from the preset.")
    p.add_argument("--store", default="data")
    p.add_argument("--run", required=True)
    add_config_flags(p, AnalyzeConfig)
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    p.add_argument("--quiet", action="store_true")


@command
def cmd_analyze(args: argparse.Namespace) -> int:
    from grokviz.analysis.run import analyze
    from grokviz.config import AnalyzeConfig
    from grokviz.store.layout import Store

    given = config_values(args, AnalyzeConfig)
    config = AnalyzeConfig.from_preset(args.run, given.pop("preset", "paper"), **given)
    report = analyze(config, Store(args.store, create=False), progress=not args.quiet, force=args.force)
    if report.cached:
        print(f"analysis {report.key} is already in the store (same settings and data); nothing to do")
    else:
        print(f"analysis {report.key} written in {report.seconds:.1f} s: "
              + ", ".join(f"{k} {v}" for k, v in report.rows.items()))
    return 0


@command
def cmd_extract(args: argparse.Namespace) -> int:
    from grokviz.config import ExtractConfig
    from grokviz.extract.run import extract, resolve_series
    from grokviz.inputs import checkpoints
    from grokviz.store.layout import Store

    config = ExtractConfig(
        run=args.run, model=args.model, samples=args.samples, revisions=tuple(args.revision),
        steps=tuple(args.steps), tokenizer=args.tokenizer, device=args.device, dtype=args.dtype,
        max_length=args.max_length, token_budget=args.token_budget,
        token_routes=args.token_routes, route_span=args.route_span, token_means=args.token_means,
        shard=args.shard, part_size=args.part_size,
        trust_remote_code=args.trust_remote_code)
    if args.evenly:
        picked = checkpoints.select_evenly(resolve_series(config), args.evenly)
        config = (dataclasses.replace(config, revisions=tuple(c.revision for c in picked))
                  if config.revisions else
                  dataclasses.replace(config, steps=tuple(c.step for c in picked)))
    if args.ray:
        return _extract_with_ray(config, args)
    report = extract(config, Store(args.store), progress=not args.quiet)
    print(f"extracted {len(report.checkpoints_done)} checkpoints "
          f"(skipped {len(report.checkpoints_skipped)} already complete), "
          f"{report.n_samples} samples ({report.n_truncated} truncated to {config.max_length} "
          f"tokens), {report.tokens} tokens in {report.seconds:.1f} s")
    return 0


def _extract_with_ray(config: ExtractConfig, args: argparse.Namespace) -> int:
    """`grokviz extract --ray N`: the same extraction as Ray tasks (grokviz/scaleout.py)."""
    if config.shard != (0, 1):
        raise InputError("give either --ray or --shard, not both", field="ray")
    try:
        import ray  # noqa: F401  (the optional extra)
    except ImportError:
        raise InputError("--ray needs Ray: pip install grokviz[ray]", field="ray") from None
    from grokviz.extract.scaleout import extract_with_ray

    report = extract_with_ray(config, args.store, args.ray, args.ray_gpus)
    print(f"extracted {len(report.tasks_done)} (checkpoint, shard) tasks with Ray (skipped "
          f"{len(report.tasks_skipped)} already complete), {report.n_shards} shards per checkpoint")
    return 0


@command
def cmd_export(args: argparse.Namespace) -> int:
    from grokviz.store.layout import Store
    from grokviz.store.tables import Tables, export_table

    store = Store(args.store, create=False)
    store.run_info(args.run)
    count = export_table(Tables(store, args.run), args.table, args.out)
    print(f"wrote {count} rows of {args.table} to {args.out}")
    return 0


@command
def cmd_info(args: argparse.Namespace) -> int:
    from grokviz.store.layout import Store
    from grokviz.store.summary import store_summary

    summary = store_summary(Store(args.store, create=False))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"store {args.store} (schema {summary['schema_version']}): {len(summary['runs'])} run(s)")
    for run in summary["runs"]:
        model = run["model"]
        print(f"  {run['run']}: {model.get('model_type')} {model.get('n_layers')} layers x "
              f"{model.get('n_experts')} experts (top-{model.get('top_k')}); "
              f"{run['n_samples']} samples in groups {run['groups']}; "
              f"checkpoints {run['steps']} ({run['complete']} complete)")
    return 0


@command
def cmd_doctor(args: argparse.Namespace) -> int:
    from grokviz.store.doctor import diagnose
    from grokviz.store.layout import Store

    findings = diagnose(Store(args.store, create=False), args.run, fix=args.fix)
    outstanding = [f for f in findings if f.outstanding]
    if args.json:
        print(json.dumps({"store": str(args.store), "run": args.run, "healthy": not outstanding,
                          "findings": [f.to_dict() for f in findings]}, indent=2))
    else:
        for finding in findings:
            print(finding.line())
        removed, live = sum(f.fixed for f in findings), sum(f.live for f in findings)
        print(f"store {args.store}: " + ("healthy" if not outstanding else f"{len(outstanding)} finding(s) to act on")
              + (f", {removed} leftover(s) removed" if removed else "")
              + (f", {live} being written by live processes" if live else ""))
    return 1 if outstanding else 0


@command
def cmd_demo(args: argparse.Namespace) -> int:
    from grokviz.demo.build import build_demo
    from grokviz.demo.findings import to_markdown
    from grokviz.demo.train import DemoConfig
    from grokviz.store.layout import Store

    overrides = {field: getattr(args, field) for _, field, _ in DEMO_FLAGS.values() if getattr(args, field) is not None}
    try:
        config = DemoConfig.quick(**overrides) if args.quick else DemoConfig(**overrides)
    except ValueError as err:
        raise InputError(str(err)) from None
    report = build_demo(Store(args.store), run=args.run, config=config, progress=not args.quiet)
    timing = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in report.seconds.items())
    print(f"demo run {report.run!r}: {len(report.steps)} checkpoints ({timing}); "
          f"open it with: grokviz app --store {args.store}")
    print(f"What it shows, per task (also in {report.models}/findings.md):\n{to_markdown(report.findings)}")
    return 0


@command
def cmd_app(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess
    from pathlib import Path

    from grokviz.store.activity import read_status
    from grokviz.store.layout import Store

    store = Store(args.store)
    builder = None
    status = read_status(store, "demo") if "demo" in store.runs() else None
    if args.build_demo and (not store.runs() or (status is not None and status.get("stage") != "done")):
        print("building the demo run in the background (a few minutes, no downloads); the dashboard opens now "
              "and fills in as checkpoints, routing and the analysis land", flush=True)
        builder = subprocess.Popen([sys.executable, "-m", "grokviz", "demo", "--store", str(args.store), "--quiet",
                                    *(["--quick"] if args.quick else [])])
    app = importlib.util.find_spec("grokviz.dashboard.app").origin  # the file only: Streamlit not loaded
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", args.host,
               "--server.port", str(args.port), *STREAMLIT_FLAGS, "--", "--store", str(Path(args.store).resolve())]
    try:
        return subprocess.call(command)
    finally:
        if builder is not None and builder.poll() is None:  # the dashboard closed first: stop the build too
            builder.terminate()
            builder.wait()
            print("the demo build stopped with the dashboard; `grokviz app --build-demo` resumes it", flush=True)


@command
def cmd_report(args: argparse.Namespace) -> int:
    from grokviz.report import write_report

    path = write_report(args.store, args.run, args.out, tuple(args.compare))
    compared = f" compared with {', '.join(args.compare)}" if args.compare else ""
    print(f"wrote the report of {args.run!r}{compared} to {path} ({path.stat().st_size / 1e6:.1f} MB; opens offline)")
    return 0


@command
def cmd_synthetic(args: argparse.Namespace) -> int:
    from grokviz.store.layout import Store
    from grokviz.synthetic.runs import SyntheticSpec, write_synthetic

    spec = SyntheticSpec(run=args.run, checkpoints=args.checkpoints, groups=args.groups,
                         samples=args.samples, layers=args.layers, experts=args.experts,
                         top_k=args.top_k, seed=args.seed)
    store = Store(args.store)
    if args.run in store.runs():
        raise InputError(f"run {args.run!r} already exists in {args.store}", field="run")
    counts = write_synthetic(store, spec)
    print(f"wrote synthetic run {args.run!r}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
