"""Synthetic accuracy and analysis tables for a real extracted store, for the dashboard tests.

`grokviz analyze` is being written separately; until it lands, `add_analysis(store, run)` writes
every table the dashboard reads (pathways from the stored routing, the rest made up but
consistent: steps, groups and sample ids are the store's own) through the real
`grokviz.results` writers, so the pages are exercised on the files they will meet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import results
from grokviz.metrics import pathways as pathway_metrics
from grokviz.store import Store
from grokviz.tables import Tables, read_step


def _base(store: Store, run: str) -> tuple[list[int], pd.DataFrame, dict]:
    tables = Tables(store, run)
    try:
        steps = [int(s) for s in tables.query("SELECT DISTINCT step FROM losses ORDER BY 1")["step"]]
        samples = tables.query('SELECT sample_id, "group" FROM samples ORDER BY sample_id')
    finally:
        tables.close()
    return steps, samples, store.run_info(run)["model"]


def add_accuracy(store: Store, run: str, steps: list[int], domains: list[str]) -> None:
    """Ten test items per domain whose correctness rises over the checkpoints."""
    rows = []
    for d, domain in enumerate(domains):
        for i in range(10):
            for t, step in enumerate(steps):
                rows.append({"run": run, "step": step, "group": domain, "split": "test", "item_id": f"{domain}-{i}",
                             "correct": int(i < 3 + 3 * t + d)})
    results.append_table(store, run, "accuracy", pd.DataFrame(rows), results.ACCURACY_SCHEMA, part="synthetic")


def _pathways(store: Store, run: str, steps: list[int], samples: pd.DataFrame, rng) -> pd.DataFrame:
    parts = []
    for step in steps:
        frame, dist = read_step(store, run, step)
        parts.append(pd.DataFrame({"run": run, "step": step, "sample_id": frame["sample_id"],
                                   "pathway": pathway_metrics.pathway_strings(dist, tau=0.7),
                                   "n_experts": pathway_metrics.n_experts(dist, tau=0.7),
                                   "consistency": rng.uniform(0, 1, len(frame)),
                                   "mean_cosine": rng.uniform(-1, 1, len(frame))}))
    out = pd.concat(parts, ignore_index=True).merge(samples, on="sample_id")
    return out[["run", "step", "sample_id", "group", "pathway", "n_experts", "consistency", "mean_cosine"]]


def _group_metrics(run: str, steps: list[int], groups: list[str], n_layers: int) -> pd.DataFrame:
    rows = []
    for g, group in enumerate(groups):
        for t, step in enumerate(steps):
            values = {"distance": 20.0 - 3 * t - g, "consistency": 0.2 + 0.1 * t, "mean_cosine": 0.1 * t,
                      "loss": 3.0 - 0.5 * t, "distinct_pathways": 6.0 - t}
            values.update({f"distance_layer_{l}": 6.0 - t + 0.5 * l for l in range(n_layers)})
            rows += [{"run": run, "step": step, "group": group, "metric": m, "value": v, "stderr": 0.1,
                      "n_samples": 3, "n_pairs": 3} for m, v in values.items()]
    return pd.DataFrame(rows)


def _health(run: str, steps: list[int], n_layers: int, n_experts: int, top_k: int, rng) -> dict[str, pd.DataFrame]:
    sat, health, co, load = [], [], [], []
    for t, step in enumerate(steps):
        for layer in range(n_layers):
            for reference in ("final", "previous"):
                sat += [{"run": run, "step": step, "layer": layer, "reference": reference, "top_k": k,
                         "value": min(1.0, 0.3 + 0.35 * t)} for k in (1, top_k)]
            health += [{"run": run, "step": step, "layer": layer, "metric": m, "value": v} for m, v in
                       (("entropy", 2.0 - 0.2 * t), ("load_cv", 0.5 + 0.1 * layer), ("top_k_mass", 0.4 + 0.1 * t))]
            share = rng.dirichlet(np.ones(n_experts))
            load += [{"run": run, "step": step, "layer": layer, "expert": e, "share": float(share[e])}
                     for e in range(n_experts)]
            co += [{"run": run, "step": step, "layer": layer, "expert_a": a, "expert_b": b, "p": float(rng.uniform())}
                   for a in range(n_experts) for b in range(n_experts) if a != b]
    return {"saturation": pd.DataFrame(sat), "health": pd.DataFrame(health), "coactivation": pd.DataFrame(co),
            "load": pd.DataFrame(load)}


def add_analysis(store: Store, run: str, seed: int = 0) -> None:
    """Accuracy parts plus one complete analysis (published as the latest) for `run`."""
    rng = np.random.default_rng(seed)
    steps, samples, shape = _base(store, run)
    domains = sorted(samples["group"].unique())
    add_accuracy(store, run, steps, domains)
    t_star = [steps[i % 2] if i % 3 else -1 for i in range(len(samples))]
    memorization = samples.assign(run=run, t_star=t_star, eps=1.0, delta=0.05)
    pairs = pd.DataFrame({"run": run, "domain": domains,
                          "train_group": [f"Pretrain@{steps[d % 2]}" for d in range(len(domains))],
                          "test_group": f"Test@{steps[-1]}", "similarity": 0.5})
    pairs["delay"] = steps[-1] - pairs["train_group"].str.split("@").str[1].astype(int)
    items = pd.DataFrame({"run": run, "item_id": [f"{d}-{i}" for d in domains for i in range(10)],
                          "group": [d for d in domains for _ in range(10)]})
    items["t_hash"] = [steps[-1] if i % 2 else -1 for i in range(len(items))]
    correlations = pd.DataFrame({"run": run, "domain": np.repeat(domains, 3), "metric": ["distance", "consistency",
                                 "loss"] * len(domains), "pearson": -0.9, "pearson_p": 0.01, "spearman": -0.8,
                                 "spearman_p": 0.02, "n_points": len(steps), "window": f"{steps[0]}-{steps[-1]}"})
    projection = pd.DataFrame([{"run": run, "step": s, "sample_id": sid, "x": float(rng.normal() + t),
                                "y": float(rng.normal())} for t, s in enumerate(steps) for sid in samples["sample_id"]])
    tables = {"memorization": memorization, "pairs": pairs, "generalization": items, "correlations": correlations,
              "pathways": _pathways(store, run, steps, samples, rng), "projection": projection,
              "group_metrics": _group_metrics(run, steps, [*pairs["train_group"].unique(), *domains], shape["n_layers"]),
              **_health(run, steps, shape["n_layers"], shape["n_experts"], shape["top_k"], rng)}
    fingerprint = results.input_fingerprint(store, run)
    settings = {"synthetic": True, "seed": seed}
    results.write_analysis(store, run, results.analysis_key(settings, fingerprint), settings, fingerprint, tables)


# --- fixtures (import them into a test module to use them) -----------------------------------
import shutil  # noqa: E402

import pytest  # noqa: E402


def copy_store(source: Store, target) -> Store:
    """A copy of a store folder (so tests can add or remove files)."""
    shutil.copytree(source.root, target)
    return Store(target, create=False)


@pytest.fixture(scope="session")
def analysed_store(small_store, tmp_path_factory) -> Store:
    """The small store plus accuracy and a complete (synthetic) analysis of run "tiny"."""
    store = copy_store(small_store, tmp_path_factory.mktemp("analysed") / "data")
    add_analysis(store, "tiny")
    return store


@pytest.fixture(scope="session")
def one_checkpoint_store(small_store, tmp_path_factory) -> Store:
    """The small store with only its first checkpoint."""
    store = copy_store(small_store, tmp_path_factory.mktemp("one") / "data")
    for step_dir in sorted((store.run_dir("tiny") / "checkpoints").glob("step=*"))[1:]:
        shutil.rmtree(step_dir)
    return store
