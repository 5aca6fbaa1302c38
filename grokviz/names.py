"""Names shared by every layer: table names, column names, enumerated options.

This module owns the vocabulary of METHOD.md (run, checkpoint/step, sample, group, split,
layer, pos, expert, rank, weight, top_k) as constants, and the export contract: the columns
of every table a user can export. It imports nothing from grokviz and nothing heavy.
Start here when you need a column name; never spell one as a bare string elsewhere.
"""

from __future__ import annotations

import enum

# Column names (METHOD.md vocabulary).
RUN = "run"
STEP = "step"
TOKENS = "tokens"
REVISION = "revision"
PATH = "path"
SAMPLE_ID = "sample_id"
TEXT = "text"
PROMPT = "prompt"
GROUP = "group"
SPLIT = "split"
LOSS = "loss"
N_TOKENS = "n_tokens"
LAYER = "layer"
POS = "pos"
TOKEN_ID = "token_id"
TOKEN = "token"
EXPERT = "expert"
RANK = "rank"
WEIGHT = "weight"
ITEM_ID = "item_id"
CORRECT = "correct"


class Split(str, enum.Enum):
    """Which part of the data a sample or item belongs to."""

    TRAIN = "train"
    TEST = "test"
    VALIDATION = "validation"


# The export contract: table -> ordered columns. Existing columns never change meaning.
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "losses": (RUN, STEP, SAMPLE_ID, GROUP, SPLIT, LOSS, N_TOKENS),
    "routing": (RUN, STEP, SAMPLE_ID, LAYER, EXPERT, WEIGHT),
    "token_routes": (RUN, STEP, SAMPLE_ID, POS, TOKEN_ID, TOKEN, LAYER, RANK, EXPERT, WEIGHT),
    "checkpoints": (RUN, STEP, TOKENS, REVISION, PATH),
    "samples": (RUN, SAMPLE_ID, GROUP, SPLIT, N_TOKENS, TEXT),
    "accuracy": (RUN, STEP, GROUP, SPLIT, ITEM_ID, CORRECT),
    "pathways": (RUN, STEP, SAMPLE_ID, GROUP, "pathway", "n_kept", "consistency", "mean_cosine"),
    "group_metrics": (RUN, STEP, GROUP, "metric", "value", "stderr", "n_samples", "n_pairs"),
    "memorization": (RUN, SAMPLE_ID, GROUP, "t_star", "eps", "delta"),
    "generalization": (RUN, ITEM_ID, GROUP, "t_hash"),
    "pairs": (RUN, "domain", "train_group", "test_group", "similarity", "delay"),
    "correlations": (
        RUN, "domain", "metric", "pearson", "pearson_p", "spearman", "spearman_p", "n_points", "window",
    ),
    "saturation": (RUN, STEP, LAYER, "reference", "top_k", "value"),
    "accuracy_series": (RUN, STEP, GROUP, SPLIT, "accuracy", "n_items"),
    "cross_correlations": (RUN, "metric", "metric_group", "accuracy_group", "own", "pearson", "spearman",
                           "n_points", "window"),
    "projection": (RUN, STEP, SAMPLE_ID, "x", "y"),
    "health": (RUN, STEP, LAYER, "metric", "value"),
    "coactivation": (RUN, STEP, LAYER, "expert_a", "expert_b", "p"),
    "load": (RUN, STEP, LAYER, EXPERT, "share"),
    "flows": (RUN, STEP, GROUP, "flow", LAYER, "source", "target", "value"),
    "items": (RUN, ITEM_ID, GROUP, "kind", TEXT),
    "task_accuracy": (RUN, STEP, GROUP, SPLIT, "accuracy"),
    "contamination": (RUN, ITEM_ID, GROUP, "score", "dropped", STEP, "k"),
    "validity": (RUN, GROUP, "metric", "check", "value", "low", "high", "n"),
    "onsets": (RUN, GROUP, "metric", "routing_onset", "accuracy_onset"),
    "null_metrics": (RUN, STEP, GROUP, "baseline", "draw", "metric", "value"),
    "monitor": (RUN, STEP, GROUP, "metric", "value"),
}

EXTRACTION_TABLES = ("losses", "routing", "token_routes", "checkpoints", "samples")
ANALYSIS_TABLES = (
    "pathways", "group_metrics", "memorization", "generalization", "pairs", "correlations", "saturation",
    "accuracy_series", "cross_correlations", "projection", "health", "coactivation", "load",
    "validity", "onsets", "null_metrics", "flows",
)

# Group labels derived by the analysis (METHOD.md 5 and 6).
PRETRAIN_GROUP = "Pretrain@{step}"
TEST_GROUP = "Test@{step}"
NEVER_MEMORIZED = -1  # t_star / t_hash value for samples that never memorise / generalise
