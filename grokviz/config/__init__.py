"""Typed settings of every stage, validated on construction, saved with each run as provenance.

Each dataclass is frozen, checks itself in `__post_init__` (raising `InputError` that names the
field), and turns into a JSON-safe dict with `to_dict()`; the CLI maps its flags onto these.
`base` (run names, hashing, enums), `extract`, `analyze` (with the named presets), `evaluate`.
Nothing here touches torch, files or the store.
"""

from grokviz.config.analyze import PRESETS, AnalyzeConfig
from grokviz.config.base import Device, RouteSpan, check_run_name, settings_hash, to_jsonable
from grokviz.config.evaluate import (
                                     CODE_STOPS,
                                     EXACT_STOPS,
                                     ChoiceNorm,
                                     ContaminationConfig,
                                     EvalKind,
                                     EvaluateConfig,
                                     ImportConfig,
                                     ModelRuntime,
                                     SandboxMode,
)
from grokviz.config.extract import ExtractConfig

__all__ = [
    "PRESETS", "AnalyzeConfig", "Device", "RouteSpan", "check_run_name", "settings_hash", "to_jsonable",
    "CODE_STOPS", "EXACT_STOPS", "ChoiceNorm", "ContaminationConfig", "EvalKind", "EvaluateConfig",
    "ImportConfig", "ModelRuntime", "SandboxMode", "ExtractConfig",
]
