"""Null baselines: the token-identity null equals a direct computation; random groups keep sizes."""

from __future__ import annotations

import numpy as np
import torch
from factories import sample_rows, write_jsonl

from grokviz.analysis import nulls
from grokviz.config import ExtractConfig
from grokviz.extract.adapters import adapter_for
from grokviz.extract.run import extract
from grokviz.store.layout import Store
from grokviz.store.tables import read_route_ids, read_token_means


def direct_token_identity(folder, texts, prompts):
    """Independently: every route-span position's full router distribution, the mean per token id
    over all samples, then each sample's mean over its positions of its tokens' means."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    routers = [m for _, m in adapter_for(model.config.model_type).routers(model)]
    positions = []  # (sample, token id, (layers, E) distribution)
    for i, (text, prompt) in enumerate(zip(texts, prompts)):
        seen: list[torch.Tensor] = []
        handles = [r.register_forward_pre_hook(lambda _m, args, s=seen: s.append(args[0].detach())) for r in routers]
        ids = tok(text)["input_ids"]
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]))
        for h in handles:
            h.remove()
        with torch.no_grad():
            probs = torch.stack([torch.softmax(x.reshape(-1, x.shape[-1]) @ r.weight.T, -1) for x, r in zip(seen, routers)], 1)
        start = len(tok(prompt)["input_ids"]) if prompt else None
        span = range(start - 1, len(ids) - 1) if prompt else range(len(ids))  # predicting / all positions
        positions += [(i, ids[p], probs[p].numpy()) for p in span]
    means = {}
    for token in {t for _, t, _ in positions}:
        means[token] = np.mean([d for _, t, d in positions if t == token], axis=0)
    return np.stack([np.mean([means[t] for s, t, _ in positions if s == i], axis=0) for i in range(len(texts))])


def test_the_token_identity_null_equals_a_direct_computation(series_factory, tmp_path):
    rows = sample_rows(8)
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    store = Store(tmp_path / "data")
    series = series_factory("olmoe")
    extract(ExtractConfig(run="r", model=str(series), samples=str(samples), part_size=3, steps=(200,)), store,
            progress=False)
    token_ids, means = read_token_means(store, "r", 200, n_layers=3)
    route_ids = read_route_ids(store, "r")
    got = nulls.token_identity_dist([route_ids[r["sample_id"]] for r in rows], token_ids, means)
    want = direct_token_identity(series / "step200", [r["text"] for r in rows], [r.get("prompt") for r in rows])
    np.testing.assert_allclose(got, want, atol=2e-5)  # uint16 storage of the means


def test_random_groups_match_the_domain_sizes_and_stay_fixed():
    pool = np.array([f"s{i}" for i in range(20)])
    domains = {"a": pool[:5], "b": pool[5:20]}
    once, again = nulls.random_draws(domains, pool, seed=3), nulls.random_draws(domains, pool, seed=3)
    assert [len(d) for d in once["a"]] == [5] * nulls.DRAWS and [len(d) for d in once["b"]] == [15] * nulls.DRAWS
    assert all((x == y).all() for x, y in zip(once["a"], again["a"]))
    assert nulls.random_draws({"a": pool}, pool) == {}  # one domain: the pool is the domain itself


def test_without_token_means_analyze_runs_the_other_null_only(series_factory, tmp_path):
    """`extract --no-token-means` stores no per-token-id means; analyze then has random groups only."""
    from factories import synthetic_accuracy

    from grokviz.analysis.run import analyze
    from grokviz.cli import main
    from grokviz.config import AnalyzeConfig
    from grokviz.store import analyses
    from grokviz.store.appended import append_table
    from grokviz.store.schemas import ACCURACY_SCHEMA

    samples = write_jsonl(tmp_path / "s.jsonl", sample_rows(12))
    root = tmp_path / "data"
    assert main(["extract", "--model", str(series_factory("olmoe")), "--samples", str(samples), "--run", "r",
                 "--store", str(root), "--no-token-means", "--quiet"]) == 0
    store = Store(root, create=False)
    assert not list(root.rglob("token_means.parquet")) and read_token_means(store, "r", 200, n_layers=3) is None
    items = {g: [r["sample_id"] for r in sample_rows(12) if r["group"] == g] for g in ("odd", "even")}
    append_table(store, "r", "accuracy", synthetic_accuracy("r", items, [100, 200, 300]), schema=ACCURACY_SCHEMA,
                 part="held-out")
    analyze(AnalyzeConfig(run="r", eps=5.0, delta=5.0, max_pairs=1000), store, progress=False)  # all settle at once
    baselines = set(analyses.read_analysis(store, "r", "null_metrics")["baseline"])
    assert baselines == {"random_groups"}
