"""Plain factories the tests share: sample rows, JSONL files, synthetic accuracy.

Imported as `from factories import ...` (a module, not conftest.py, so that several
conftest.py files can coexist).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("olmoe", "mixtral", "qwen2_moe", "qwen3_moe")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def sample_rows(count: int = 12, seed: int = 0) -> list[dict]:
    """Samples of varying length over the tiny vocabulary, in two groups, some with prompts."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(count):
        words = [f"w{rng.randrange(40)}" for _ in range(rng.randrange(3, 14))]
        row = {"sample_id": f"s{i:03d}", "text": " ".join(words), "group": "even" if i % 2 else "odd"}
        if i % 3 == 0:
            row["prompt"] = " ".join(words[:2])
        rows.append(row)
    return rows


def synthetic_accuracy(run: str, groups: dict[str, list[str]], steps: list[int], seed: int = 0):
    """Held-out correctness that rises over training, each item from a seeded step on."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for group, items in groups.items():
        for item in items:
            solved_from = steps[rng.integers(1, len(steps))]
            rows += [{"run": run, "step": s, "group": group, "split": "test", "item_id": item,
                      "correct": int(s >= solved_from)} for s in steps]
    return pd.DataFrame(rows)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` -> its SHA-256: compare two snapshots to prove nothing changed."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def copy_store(source, target: Path):
    """A copy of a store folder (so a test can add or remove files without touching the original)."""
    import shutil

    from grokviz.store.layout import Store

    shutil.copytree(source.root, target)
    return Store(target, create=False)
