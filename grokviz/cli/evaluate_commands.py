"""The `evaluate`, `import-accuracy` and `contamination` subcommands of `grokviz`.

`grokviz.cli.entry.build_parser` calls `add_parsers` once; each command maps its flags onto a config
dataclass (config.py) and calls one module. Heavy modules load inside the commands only, so
`grokviz --help` and the headless layers never import torch.
"""

from __future__ import annotations

import argparse
import codecs

from grokviz.cli.registry import command


def parse_pair(text: str) -> tuple[str, str]:
    """`NAME=VALUE` -> (NAME, VALUE); the value is what follows the last `=`.

    >>> parse_pair("step5000-tokens20B=5000")
    ('step5000-tokens20B', '5000')
    """
    name, sep, value = text.rpartition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_step_pair(text: str) -> tuple[str, int]:
    name, value = parse_pair(text)
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=STEP with an integer step, got {text!r}")
    return name, int(value)


def unescape(text: str) -> str:
    r"""Shell-typed escapes to characters: `\n` -> newline.

    >>> unescape("\\n\\nQuestion:")
    '\n\nQuestion:'
    """
    return codecs.decode(text, "unicode_escape")


def add_parsers(sub) -> None:
    """Register the three subcommands on `grokviz`'s subparsers."""
    _evaluate_parser(sub)
    _import_parser(sub)
    _contamination_parser(sub)


def _model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--tokenizer", help="tokenizer folder or hub id (default: the checkpoint's)")
    p.add_argument("--max-length", type=int, default=2048)
    p.add_argument("--token-budget", type=int, default=16384, help="padded tokens per batch")
    p.add_argument("--trust-remote-code", action="store_true")


def _runtime(args: argparse.Namespace):
    from grokviz.config import ModelRuntime

    return ModelRuntime(device=args.device, dtype=args.dtype, tokenizer=args.tokenizer,
                         max_length=args.max_length, token_budget=args.token_budget,
                         trust_remote_code=args.trust_remote_code)


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score test items at every checkpoint of a run")
    p.add_argument("--store", default="data")
    p.add_argument("--run", required=True)
    p.add_argument("--tests", required=True, help="JSONL, CSV or Parquet of test items")
    p.add_argument("--kind", default="choice", choices=["choice", "exact", "code"])
    p.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=(),
                   help="comma-separated steps (default: every checkpoint of the run)")
    p.add_argument("--fewshot", type=int, default=0, help="K demonstrations from --fewshot-file")
    p.add_argument("--fewshot-file", help="items (same format) whose first K are demonstrations")
    p.add_argument("--norm", default="chars", choices=["chars", "tokens", "none"],
                   help="choice: which score decides `correct` (chars = lm-eval acc_norm)")
    p.add_argument("--stop", action="append", type=unescape, default=None,
                   help="stop sequence (repeatable; '\\n' allowed); default '\\n' (exact) or the "
                   "HumanEval stops (code)")
    p.add_argument("--max-new-tokens", type=int, help="default 32 (exact) or 512 (code)")
    p.add_argument("--last-number", action="store_true", help="exact: compare the last number only")
    p.add_argument("--allow-code-execution", action="store_true",
                   help="code: run model-written programs (sandboxed, see --sandbox; time, memory and "
                   "process limits, no network)")
    p.add_argument("--timeout", type=float, default=10.0, help="code: seconds per item")
    p.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "guard"],
                   help="code: how programs are isolated. bwrap (bubblewrap; the kernel enforces it): "
                   "the filesystem read-only, temporary folders and homes hidden, only the program's "
                   "folder writable, no network, own PID namespace, uid 65534 when run as root; it "
                   "does not hide other files from reading. guard: a Python-level guard (HumanEval "
                   "style) refusing destructive os/shutil/subprocess calls, writes outside the "
                   "program's folder and sockets; it stops accidents, but a determined program can "
                   "undo it and it does not stop reading files. auto (default): bwrap where it "
                   "works, else guard with a warning")
    _model_flags(p)
    p.add_argument("--quiet", action="store_true")


@command
def cmd_evaluate(args: argparse.Namespace) -> int:
    from grokviz.config import EvaluateConfig
    from grokviz.evaluate.run import evaluate
    from grokviz.store.layout import Store

    config = EvaluateConfig(
        run=args.run, tests=args.tests, kind=args.kind, steps=tuple(args.steps), fewshot=args.fewshot,
        fewshot_file=args.fewshot_file, norm=args.norm,
        stop=tuple(args.stop) if args.stop is not None else None,
        max_new_tokens=args.max_new_tokens or (512 if args.kind == "code" else 32),
        last_number=args.last_number, allow_code_execution=args.allow_code_execution,
        timeout=args.timeout, sandbox=args.sandbox, runtime=_runtime(args))
    report = evaluate(config, Store(args.store, create=False), progress=not args.quiet)
    accuracy = ", ".join(f"{step}: {value:.3f}" for step, value in report.accuracy.items())
    print(f"evaluated {report.n_items} {args.kind} items at {len(report.steps_done)} checkpoints "
          f"(skipped {len(report.steps_skipped)} already stored as {report.prefix}) in "
          f"{report.seconds:.1f} s ({report.items_per_second:.1f} items/s)" + (f"; accuracy {accuracy}"
                                                                              if accuracy else ""))
    if report.sandbox:
        print(f"code items ran in the {report.sandbox.mode} sandbox ({report.sandbox.detail})")
    if report.n_dropped:
        print(f"{report.n_dropped} of these items are dropped by the run's contamination filter: "
              "their rows are stored, the analysis leaves them out")
    return 0


def _import_parser(sub) -> None:
    p = sub.add_parser("import-accuracy", help="import per-item or per-task accuracy (CSV, JSONL, "
                       "lm-evaluation-harness output)")
    p.add_argument("--store", default="data")
    p.add_argument("--run", required=True)
    p.add_argument("--file", required=True, help="file, or a folder of lm-eval results_*.json")
    p.add_argument("--format", default="auto", choices=["auto", "items", "tasks", "lm-eval"])
    p.add_argument("--checkpoint-map", nargs="+", type=parse_step_pair, default=(),
                   metavar="NAME=STEP", help="checkpoint names (revision, folder) to steps")
    p.add_argument("--metric", default="auto", help="lm-eval metric (auto: acc_norm, acc, "
                   "exact_match, pass@1)")
    p.add_argument("--task-group", nargs="+", type=parse_pair, default=(), metavar="TASK=GROUP",
                   help="lm-eval task -> group (domain); default: the task name")
    p.add_argument("--tests", help="the items file: checks item ids, stores texts for pairing")
    p.add_argument("--split", default="test", choices=["train", "test", "validation"])


@command
def cmd_import_accuracy(args: argparse.Namespace) -> int:
    from grokviz.config import ImportConfig
    from grokviz.evaluate.accuracy_import import import_accuracy
    from grokviz.store.layout import Store

    config = ImportConfig(run=args.run, file=args.file, format=args.format,
                          checkpoint_map=tuple(args.checkpoint_map), metric=args.metric,
                          task_groups=tuple(args.task_group), tests=args.tests, split=args.split)
    report = import_accuracy(config, Store(args.store, create=False))
    if report.already_imported:
        print(f"{args.file} is already in the store as {report.part}; nothing to do")
        return 0
    print(f"imported {report.item_rows} item rows and {report.task_rows} task rows ({report.format}) "
          f"at steps {report.steps} as {report.part}")
    if report.item_rows and not report.items_checked:
        print("note: the run has no items table and no --tests was given, so item ids were not "
              "checked and the items have no texts for pairing")
    return 0


def _contamination_parser(sub) -> None:
    p = sub.add_parser("contamination", help="Min-K%%++ filter: drop the test items most likely seen")
    p.add_argument("--store", default="data")
    p.add_argument("--run", required=True)
    p.add_argument("--tests", required=True, help="the test items file (any kind)")
    p.add_argument("--step", type=int, required=True, help="the checkpoint that scores the items")
    p.add_argument("--drop", type=float, default=0.1, help="fraction to drop (highest scores)")
    p.add_argument("--k", type=float, default=20.0, help="percent of lowest token scores averaged")
    p.add_argument("--scope", default="group", choices=["group", "all"],
                   help="drop the top fraction of each group, or of all items")
    _model_flags(p)
    p.add_argument("--quiet", action="store_true")


@command
def cmd_contamination(args: argparse.Namespace) -> int:
    from grokviz.config import ContaminationConfig
    from grokviz.evaluate.contamination import contamination
    from grokviz.store.layout import Store

    config = ContaminationConfig(run=args.run, tests=args.tests, step=args.step, drop=args.drop,
                                 k=args.k, scope=args.scope, runtime=_runtime(args))
    report = contamination(config, Store(args.store, create=False), progress=not args.quiet)
    print(f"scored {report.n_items} items at step {report.step} (Min-K%++, k={args.k:g}%); dropped "
          f"{report.n_dropped}: {report.by_group or 'none'} in {report.seconds:.1f} s")
    return 0
