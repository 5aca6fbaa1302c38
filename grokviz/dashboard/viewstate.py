"""The dashboard's view state as URL parameters: names, allowed values, parsing, links.

A view is a plain dict of validated values (run, step, step2, group, sample, layers, layer,
color, topn, flow, source, pair, metric, eps, delta, curves, diff, runs, align). `parse_params` turns raw URL
parameters into a view, checking every value against what the store actually holds (`Known`)
and returning one plain-language problem per rejected value; `to_params` and `link` go the
other way. Nothing raw from a URL ever reaches a path or SQL: a value is used only after it
matched a known run, step, group, sample or option. Pure Python; no Streamlit, no store.
Start at `parse_params`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

COLOR_BY = {"group": "group", "t_star": "memorisation step", "loss": "loss", "consistency": "consistency"}
FLOWS = {
    "token-top1": "per token: top-1 expert",
    "token-topk": "per token: all top-k (weighted)",
    "sample-argmax": "per sample: argmax expert",
    "sample-tau": "per sample: tau-kept experts (weighted)",
}
SOURCES = {"group": "a group", "selection": "the map selection", "sample": "one sample"}
ALL_GROUPS = "all"
TREND_METRICS = ("distance", "consistency", "mean_cosine", "distinct_pathways", "loss")
ALIGN = {"step": "by step", "fraction": "by fraction of training"}
MAX_SHOWN = 40  # characters of a rejected value quoted back to the user


@dataclass(frozen=True)
class Known:
    """What the store holds for one run: the only values a URL parameter may take."""

    runs: tuple[str, ...]
    steps: tuple[int, ...] = ()
    groups: tuple[str, ...] = ()
    samples: Collection[str] = field(default_factory=frozenset)
    n_layers: int = 0  # MoE layers; the Sankey's `layers` range counts them from 0
    layers: tuple[int, ...] = ()  # their decoder-layer indices: the values `layer` may take
    n_experts: int = 0
    pairs: tuple[str, ...] = ()


def shown(raw: object) -> str:
    """A raw parameter value made safe to quote in a message: truncated, in a code span.

    >>> shown("x`<script>" + "a" * 60)
    '`x<script>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…`'
    """
    text = re.sub(r"[`\x00-\x1f\x7f]", "", str(raw))
    return f"`{text[:MAX_SHOWN]}{'…' if len(text) > MAX_SHOWN else ''}`"


def parse_int(raw: str, allowed: Collection[int]) -> int | None:
    """An integer in `allowed`, else None.

    >>> parse_int("200", (100, 200)), parse_int("2e2", (200,)), parse_int("../x", (1,))
    (200, None, None)
    """
    if not re.fullmatch(r"-?\d{1,12}", raw.strip()):
        return None
    value = int(raw)
    return value if value in allowed else None


def parse_float(raw: str, low: float, high: float) -> float | None:
    """A finite float in [low, high], else None.

    >>> parse_float("0.05", 0, 1), parse_float("nan", 0, 1), parse_float("7", 0, 1)
    (0.05, None, None)
    """
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def parse_layers(raw: str, n_layers: int) -> tuple[int, int] | None:
    """A layer range "lo-hi" (inclusive, lo < hi) within the model's layers, else None.

    >>> parse_layers("2-5", 16), parse_layers("5-2", 16), parse_layers("0-16", 16)
    ((2, 5), None, None)
    """
    match = re.fullmatch(r"(\d{1,4})-(\d{1,4})", raw.strip())
    if not match:
        return None
    lo, hi = int(match[1]), int(match[2])
    return (lo, hi) if 0 <= lo < hi < n_layers else None


def parse_runs(raw: str, runs: Collection[str]) -> tuple[str, ...] | None:
    """Comma-separated run names, every one a run of the store (duplicates dropped), else None.

    >>> parse_runs("b,a,b", ("a", "b")), parse_runs("a,zz", ("a", "b")), parse_runs("", ("a",))
    (('b', 'a'), None, None)
    """
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",")))
    return names if names and all(name in runs for name in names) else None


def parse_bool(raw: str) -> bool | None:
    """A URL flag: 1/true/on or 0/false/off (any case), else None.

    >>> parse_bool("1"), parse_bool("False"), parse_bool("yes please")
    (True, False, None)
    """
    value = raw.strip().lower()
    return True if value in ("1", "true", "on") else False if value in ("0", "false", "off") else None


def format_layers(layers: tuple[int, int]) -> str:
    """The URL form of a layer range.

    >>> format_layers((0, 15))
    '0-15'
    """
    return f"{int(layers[0])}-{int(layers[1])}"


def _parse_eps(raw: str) -> str | float | None:
    return "auto" if raw == "auto" else parse_float(raw, 1e-6, 50.0)


def _rules(known: Known) -> dict[str, tuple[Any, str]]:
    """Parameter -> (parser of the raw string, what a valid value is)."""
    def choice(options):
        return lambda raw: raw if raw in options else None

    return {
        "step": (lambda raw: parse_int(raw, known.steps), "a checkpoint step of this run"),
        "step2": (lambda raw: parse_int(raw, known.steps), "a checkpoint step of this run"),
        "group": (choice((ALL_GROUPS, *known.groups)), "a group of this run"),
        "sample": (choice(known.samples), "a sample id of this run"),
        "layers": (lambda raw: parse_layers(raw, known.n_layers), f"a layer range like 0-{max(known.n_layers - 1, 1)}"),
        "layer": (lambda raw: parse_int(raw, known.layers or range(known.n_layers)),
                  f"one of the MoE layers {list(known.layers or range(known.n_layers))}"),
        "color": (choice(COLOR_BY), f"one of {', '.join(COLOR_BY)}"),
        "topn": (lambda raw: parse_int(raw, range(1, known.n_experts + 1)), f"from 1 to {known.n_experts}"),
        "flow": (choice(FLOWS), f"one of {', '.join(FLOWS)}"),
        "source": (choice(SOURCES), f"one of {', '.join(SOURCES)}"),
        "pair": (choice(known.pairs), "a domain or a Pretrain -> Test pair of this run"),
        "metric": (choice(TREND_METRICS), f"one of {', '.join(TREND_METRICS)}"),
        "eps": (_parse_eps, "auto or a number in (0, 50]"),
        "delta": (lambda raw: parse_float(raw, 0.0, 5.0), "a number in [0, 5]"),
        "curves": (lambda raw: parse_int(raw, range(0, 51)), "a number of sample curves from 0 to 50"),
        "diff": (parse_bool, "1 or 0"),
        "runs": (lambda raw: parse_runs(raw, known.runs),
                 f"runs of this store, comma-separated (runs: {', '.join(known.runs) or 'none'})"),
        "align": (choice(ALIGN), f"one of {', '.join(ALIGN)}"),
    }


PARAMS = ("run", *_rules(Known(runs=())).keys())


def parse_params(raw: Mapping[str, str], known: Known) -> tuple[dict[str, Any], list[str]]:
    """Validate raw URL parameters against `known`: the view, and one message per rejected value.

    `known` describes the URL's run when that run exists, else the run shown instead.

    >>> known = Known(runs=("tiny",), steps=(100, 200), groups=("odd",), samples={"s1"}, n_layers=3, n_experts=8)
    >>> view, problems = parse_params({"run": "tiny", "step": "200", "sample": "x' OR 1=1", "zzz": "1"}, known)
    >>> view
    {'run': 'tiny', 'step': 200}
    >>> problems[0]
    "Ignored URL parameter `sample` = `x' OR 1=1`: expected a sample id of this run."
    """
    view: dict[str, Any] = {}
    problems: list[str] = []
    if "run" in raw:
        if raw["run"] in known.runs:
            view["run"] = raw["run"]
        else:
            problems.append(f"Ignored URL parameter `run` = {shown(raw['run'])}: no such run in this store "
                            f"(runs: {', '.join(known.runs) or 'none'}).")
    rules = _rules(known)
    for name, value in raw.items():
        if name == "run":
            continue
        if name not in rules:
            problems.append(f"Ignored unknown URL parameter {shown(name)}.")
            continue
        parser, expected = rules[name]
        parsed = parser(str(value))
        if parsed is None:
            problems.append(f"Ignored URL parameter `{name}` = {shown(value)}: expected {expected}.")
        else:
            view[name] = parsed
    return view, problems


def to_params(view: Mapping[str, Any]) -> dict[str, str]:
    """The URL parameters of a view, in a fixed order, skipping unset values.

    >>> to_params({"layers": (0, 2), "run": "tiny", "eps": 0.5, "junk": 1, "diff": True, "runs": ("a", "b")})
    {'run': 'tiny', 'layers': '0-2', 'eps': '0.5', 'diff': '1', 'runs': 'a,b'}
    """
    params = {}
    for name in PARAMS:
        value = view.get(name)
        if value is None:
            continue
        if name == "layers":
            params[name] = format_layers(value)
        elif isinstance(value, bool):
            params[name] = "1" if value else "0"
        elif name == "runs":
            params[name] = ",".join(value)
        else:
            params[name] = str(value)
    return params


def link(base_url: str | None, view: Mapping[str, Any]) -> str:
    """A shareable link to the view: the page's URL plus its parameters.

    >>> link("http://localhost:8501/pathways", {"run": "tiny", "step": 100})
    'http://localhost:8501/pathways?run=tiny&step=100'
    """
    query = urlencode(to_params(view))
    return f"{base_url or ''}?{query}" if query else (base_url or "")
