"""Extraction records exactly what each family's model computes: routing, loss and top-k."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import FAMILIES, sample_rows, write_jsonl

from grokviz.config import ExtractConfig
from grokviz.extract.adapters import adapter_for
from grokviz.extract.run import extract
from grokviz.store.layout import Store
from grokviz.store.tables import Tables, read_router_weights, read_step


def independent_recomputation(folder, texts, prompts):
    """Per sample, one unpadded forward: router inputs captured by pre-hooks, softmax(W x)
    averaged over the route span (the default `auto`: every token of plain text; for a sample
    with a prompt the positions that predict a completion token), top-k of it, and the loss by a
    manual log-softmax (word-level tokens: the prompt's tokens are a prefix of the text's)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    routers = [m for _, m in adapter_for(model.config.model_type).routers(model)]
    results = []
    for text, prompt in zip(texts, prompts):
        inputs: list[torch.Tensor] = []
        handles = [r.register_forward_pre_hook(lambda _m, args, seen=inputs: seen.append(args[0].detach()))
                   for r in routers]
        ids = torch.tensor([tok(text)["input_ids"]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
        for h in handles:
            h.remove()
        with torch.no_grad():
            probs = [torch.softmax(x.reshape(-1, x.shape[-1]) @ r.weight.T, -1) for x, r in zip(inputs, routers)]
        start = len(tok(prompt)["input_ids"]) if prompt else 1  # first token that carries loss
        span = slice(start - 1, ids.shape[1] - 1) if prompt else slice(None)  # positions predicting it on
        dist = torch.stack([p[span].mean(0) for p in probs])  # (layers, experts)
        topk = torch.stack([p.topk(model.config.num_experts_per_tok, -1).indices for p in probs], 1)
        logp = logits[:-1] - torch.logsumexp(logits[:-1], -1, keepdim=True)
        targets = ids[0, 1:]
        nll = -logp[torch.arange(len(targets)), targets][start - 1:]
        results.append((dist.numpy(), topk.numpy(), float(nll.mean())))
    return results


@pytest.mark.parametrize("family", FAMILIES)
def test_stored_routing_loss_and_topk_match_an_independent_recomputation(family, series_factory, tmp_path):
    series = series_factory(family)
    rows = sample_rows(10)
    samples = write_jsonl(tmp_path / "s.jsonl", rows)
    store = Store(tmp_path / "store")
    extract(ExtractConfig(run="r", model=str(series), samples=str(samples), token_routes=None,
                          token_budget=40), store, progress=False)
    tables = Tables(store, "r")
    for step in (100, 300):
        frame, dist = read_step(store, "r", step)
        expected = independent_recomputation(series / f"step{step}", [r["text"] for r in rows],
                                              [r.get("prompt", "") for r in rows])
        by_id = dict(zip(frame["sample_id"], range(len(frame))))
        for row, (want_dist, want_topk, want_loss) in zip(rows, expected):
            i = by_id[row["sample_id"]]
            np.testing.assert_allclose(dist[i], want_dist, atol=1e-5)
            assert frame["loss"][i] == pytest.approx(want_loss, abs=1e-4)
            routes = tables.query("SELECT pos, layer, rank, expert FROM token_routes WHERE step = ? "
                                  "AND sample_id = ? ORDER BY pos, layer, rank", [step, row["sample_id"]])
            got = routes["expert"].to_numpy().reshape(want_topk.shape)
            np.testing.assert_array_equal(np.sort(got, -1), np.sort(want_topk, -1))


def test_router_weights_are_stored_once_per_checkpoint(small_store):
    from transformers import AutoModelForCausalLM

    folder = small_store.run_info("tiny")["calls"][0]["model"]
    model = AutoModelForCausalLM.from_pretrained(f"{folder}/step200")
    stored = read_router_weights(small_store, "tiny", 200)
    assert len(stored) == 3
    np.testing.assert_allclose(stored[1], model.model.layers[1].mlp.gate.weight.detach().numpy(),
                               atol=2e-3, rtol=1e-3)


def test_distributions_sum_to_one_and_rows_cover_every_sample(small_store):
    tables = Tables(small_store, "tiny")
    sums = tables.query("SELECT step, sample_id, layer, sum(weight) AS total FROM routing GROUP BY ALL")
    assert np.allclose(sums["total"], 1.0, atol=1e-3)
    counts = tables.query("SELECT step, count(*) AS n FROM losses GROUP BY step ORDER BY step")
    assert counts["n"].tolist() == [12, 12, 12]


def test_token_routes_are_kept_for_the_first_n_samples_of_each_group(small_store):
    kept = Tables(small_store, "tiny").query(
        'SELECT DISTINCT s."group", t.sample_id FROM token_routes t JOIN samples s USING (sample_id)')
    assert kept.groupby("group").size().to_dict() == {"even": 3, "odd": 3}


def test_shards_are_disjoint_and_together_equal_one_process(series_factory, tmp_path, samples_file):
    single, split = Store(tmp_path / "one"), Store(tmp_path / "two")
    base = dict(run="r", model=str(series_factory("olmoe")), samples=str(samples_file))
    extract(ExtractConfig(**base, part_size=4), single, progress=False)
    for index in (0, 1):
        extract(ExtractConfig(**base, shard=(index, 2), part_size=4), split, progress=False)
    for table in ("losses", "routing", "token_routes", "checkpoints", "samples"):
        a, b = Tables(single, "r").table(table), Tables(split, "r").table(table)
        assert a.equals(b), table
