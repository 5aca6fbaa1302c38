"""`AnalyzeConfig`: every choice of METHOD.md the analysis makes, as named presets plus overrides.

Each field documents itself (`metadata["help"]`, and `["choices"]` where it is one of a few
strings); the `grokviz analyze` flags are built from these fields, so a default lives here only.
`PRESETS` names complete settings: `paper` (the default; METHOD.md as grokviz reads the paper)
and `legacy` (grokviz 0.1's readings, to compare with). A config records its preset, and
`departures()` lists every setting that differs from it; `stamp()` is the one line every figure
carries. The hash of `to_dict()` keys the cached analysis.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grokviz.config.base import _positive, check_run_name, to_jsonable
from grokviz.errors import InputError

ANALYSIS_VERSION = 7  # bumped when an analysis of the same settings would compute different tables


def _option(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field documented for `--help`."""
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class AnalyzeConfig:
    """Settings of `grokviz analyze` (METHOD.md options); their hash keys the cached result."""

    run: str
    preset: str = _option("paper", "named defaults these settings start from", ("paper", "legacy"))
    # --- pathways (METHOD 2) ---
    tau: float | None = _option(0.7, "keep experts per layer until their cumulative weight exceeds tau")
    top_k: int | None = _option(None, "keep a fixed number of experts per layer instead of tau")
    # --- distance (METHOD 3) ---
    distance: str = _option("char", "level of the whole-pathway Levenshtein distance: char (the paper's "
                            "magnitudes) or expert (one symbol per expert id)", ("char", "expert"))
    layer_distance: str = _option("expert", "level of the per-layer distance (the paper's Fig. 5 values fit "
                                  "expert level)", ("expert", "char"))
    max_pairs: int | None = _option(5_000, "above this many pairs, estimate a group's mean distance from "
                                    "uniformly sampled pairs (with its standard error)")
    layer_max_pairs: int | None = _option(1_000, "the same pair budget for each layer's distance (short strings "
                                          "and small values: the estimate's error stays small)")
    # --- consistency (METHOD 4) ---
    consistency_weights: str = _option("full", "routing weights of the embeddings: the full distribution (the "
                                       "formula as written), the tau-selected experts, or the model's own "
                                       "per-token top-k", ("full", "selected", "token_topk"))
    consistency_cosine: str = _option("averaged", "cosines of token-averaged embeddings, or per-token cosines "
                                      "averaged (needs token_topk weights)", ("averaged", "per_token"))
    # --- memorisation and generalisation (METHOD 5, 6) ---
    eps: str | float = _option("auto", "memorisation loss threshold, or auto (per group, 20-25%% memorised)")
    delta: float = _option(0.05, "a memorised loss stays within delta of its final value")
    include_last: bool = _option(False, "also count samples memorised (items solved) only at the last "
                                 "checkpoint; the paper counts them as not memorised")
    min_group_size: int = _option(5, "Pretrain@t groups smaller than this are not paired with test groups")
    # --- correlation with accuracy (METHOD 8) ---
    accuracy_window: str = _option("auto", "checkpoints correlated: auto (from the accuracy's rise) or A:B (steps)")
    loss_baseline: str = _option("all", "training-loss baseline over all training samples of a domain, or "
                                 "over its memorised samples only", ("all", "memorized"))
    loss_window: int = _option(3, "checkpoints in the moving average of the training-loss baseline")
    control: str = _option("step", "the time control: step values, or checkpoint ordinals", ("step", "index"))
    # --- validity (METHOD 11) ---
    bootstrap: int = _option(1000, "bootstrap resamples for confidence intervals (0: none)")
    permutations: int = _option(1000, "checkpoint-order shuffles for permutation p-values (0: none)")
    nulls: bool = _option(True, "compute the null baselines (token identity, random groups)")
    seed: int = _option(0, "seed of every sampled pair, resample, shuffle and map")
    # --- stages ---
    pairing: bool = _option(True, "pair Pretrain@p with Test@q by text similarity (all-MiniLM-L6-v2)")
    projection: bool = _option(True, "compute the pathway maps (UMAP, each checkpoint started from the previous map)")
    projection_samples: int = _option(2000, "samples on the pathway maps")
    projection_steps: int = _option(12, "checkpoints on the pathway maps")

    def __post_init__(self) -> None:
        check_run_name(self.run)
        if self.preset not in PRESETS:
            raise InputError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}", field="preset")
        if (self.tau is None) == (self.top_k is None):
            raise InputError("give exactly one of tau and top_k", field="tau")
        if self.tau is not None and not 0 < self.tau <= 1:
            raise InputError(f"tau must be in (0, 1], got {self.tau}", field="tau")
        if self.top_k is not None:
            _positive(self.top_k, "top_k")
        for field in dataclasses.fields(self):
            choices = field.metadata.get("choices")
            if choices and getattr(self, field.name) not in choices:
                raise InputError(f"{field.name} must be one of {', '.join(choices)}, got "
                                 f"{getattr(self, field.name)!r}", field=field.name)
        if self.consistency_cosine == "per_token" and self.consistency_weights != "token_topk":
            raise InputError("per-token cosines need per-token weights: use consistency_weights token_topk",
                             field="consistency_cosine")
        if self.eps != "auto":
            try:
                object.__setattr__(self, "eps", float(self.eps))
            except ValueError:
                raise InputError(f"eps must be 'auto' or a number, got {self.eps!r}", field="eps") from None
            _positive(self.eps, "eps")
        for name in ("delta", "loss_window", "min_group_size"):
            _positive(getattr(self, name), name)
        for name in ("max_pairs", "layer_max_pairs"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name)
        if self.bootstrap < 0 or self.permutations < 0:
            raise InputError("bootstrap and permutations must be >= 0", field="bootstrap")
        self.window()

    @classmethod
    def from_preset(cls, run: str, preset: str = "paper", **overrides: Any) -> AnalyzeConfig:
        """The preset's settings with `overrides` (None values ignored); giving `top_k` clears tau."""
        if preset not in PRESETS:
            raise InputError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}", field="preset")
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = {**PRESETS[preset], **given}
        if "top_k" in given and "tau" not in given:
            settings["tau"] = None
        return cls(run=run, preset=preset, **settings)

    def window(self) -> str | tuple[int, int]:
        """The accuracy window as `correlate` takes it: "auto" or (start, stop) steps."""
        if self.accuracy_window == "auto":
            return "auto"
        try:
            start, stop = (int(part) for part in self.accuracy_window.split(":"))
        except ValueError:
            raise InputError(f"accuracy window must be 'auto' or A:B, got {self.accuracy_window!r}",
                             field="accuracy_window") from None
        return start, stop

    def departures(self) -> dict[str, Any]:
        """Method settings that differ from the preset (stage switches and the seed left out)."""
        base = {**_DEFAULTS, **PRESETS[self.preset]}
        return {name: getattr(self, name) for name in METHOD_FIELDS if getattr(self, name) != base[name]}

    def stamp(self, positions: str | None = None) -> str:
        """The one line every figure carries, e.g. "preset paper; tau 0.7; distance char; positions all"."""
        rule = f"tau {self.tau:g}" if self.tau is not None else f"top-{self.top_k}"
        parts = [f"preset {self.preset}", rule, f"distance {self.distance}"]
        if positions:
            parts.append(f"positions {positions}")
        shown = {"tau", "top_k", "distance"}
        parts += [f"{name.replace('_', ' ')} {value}" for name, value in self.departures().items() if name not in shown]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings, with the analysis version (both key the cached result)."""
        return to_jsonable(self) | {"version": ANALYSIS_VERSION}


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(AnalyzeConfig) if f.name != "run"}
STAGE_FIELDS = {"preset", "seed", "pairing", "projection", "projection_samples", "projection_steps",
                "bootstrap", "permutations", "nulls"}
METHOD_FIELDS = tuple(name for name in _DEFAULTS if name not in STAGE_FIELDS)
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},  # the field defaults: METHOD.md as grokviz reads the paper
    "legacy": {  # grokviz 0.1: t* = T counted, per-layer distance at char level, loss of memorised samples
        "include_last": True, "layer_distance": "char", "loss_baseline": "memorized", "min_group_size": 1,
    },
}
