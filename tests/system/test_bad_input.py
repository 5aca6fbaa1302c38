"""Bad input gets one clear line naming file, line or field, and the store is left unchanged."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from factories import sample_rows, write_jsonl

from grokviz.cli import main
from grokviz.store.layout import SCHEMA_VERSION


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def good_store(tmp_path, series_factory):
    """A store with one complete run 'r', built through the CLI."""
    samples = write_jsonl(tmp_path / "good.jsonl", sample_rows(6))
    store = tmp_path / "store"
    assert main(["extract", "--model", str(series_factory("olmoe")), "--samples", str(samples),
                 "--store", str(store), "--run", "r", "--quiet"]) == 0
    return store


def run_extract(store, model, samples, capsys, run="r") -> str:
    capsys.readouterr()
    assert main(["extract", "--model", str(model), "--samples", str(samples), "--store",
                 str(store), "--run", run, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("grokviz: error: "), err
    return err


SAMPLE_CASES = {
    "malformed-jsonl-line": ('{"sample_id": "a", "text": "w1 w2"}\n{"sample_id": "b", "text": \n', "bad.jsonl:2: malformed JSON"),
    "missing-text-column": ('{"sample_id": "a", "txt": "w1"}\n', "missing required column (field 'text')"),
    "empty-text": ('{"sample_id": "a", "text": "w1"}\n{"sample_id": "b", "text": "   "}\n', "bad.jsonl:2: empty text (field 'text')"),
    "duplicate-id": ('{"sample_id": "a", "text": "w1"}\n{"sample_id": "b", "text": "w2"}\n{"sample_id": "a", "text": "w3"}\n', "bad.jsonl:3: duplicate sample_id 'a'"),
    "bad-split": ('{"sample_id": "a", "text": "w1", "split": "dev"}\n', "bad.jsonl:1: split must be one of"),
    "not-an-object": ('["a", "w1"]\n', "bad.jsonl:1: each line must be a JSON object"),
    "prompt-not-prefix": ('{"sample_id": "a", "text": "w1 w2", "prompt": "w3"}\n', "prompt must be a strict prefix"),
}


@pytest.mark.parametrize("content,expected", SAMPLE_CASES.values(), ids=SAMPLE_CASES.keys())
def test_bad_samples_file(content, expected, good_store, series_factory, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    before = snapshot(good_store)
    assert expected in run_extract(good_store, series_factory("olmoe"), bad, capsys)
    assert snapshot(good_store) == before


def test_non_utf8_samples_file(good_store, series_factory, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"sample_id": "a", "text": "w1"}\n{"sample_id": "b", "text": "caf\xe9"}\n')
    assert "bad.jsonl:2: not valid UTF-8" in run_extract(good_store, series_factory("olmoe"), bad, capsys)


def test_csv_missing_text_and_duplicate_ids(tmp_path, good_store, series_factory, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("sample_id,text\na,w1 w2\na,w3\n")
    assert "bad.csv:3: duplicate sample_id 'a'" in run_extract(good_store, series_factory("olmoe"), bad, capsys)


def test_unknown_model_family_names_the_supported_ones(tmp_path, good_store, capsys):
    from transformers import LlamaConfig, LlamaForCausalLM

    dense = tmp_path / "dense" / "step1"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1)).save_pretrained(dense)
    from grokviz.synthetic.tiny import WORDS
    from grokviz.synthetic.wordlevel import build_tokenizer
    build_tokenizer(WORDS).save_pretrained(dense)
    err = run_extract(good_store, dense.parent, write_jsonl(tmp_path / "s.jsonl", sample_rows(2)), capsys, run="d")
    assert "'llama' is not a supported MoE family (supported: gpt_oss, granitemoe, mixtral, olmoe, qwen2_moe, qwen3_moe)" in err


def test_missing_checkpoint_folder(tmp_path, good_store, capsys):
    err = run_extract(good_store, tmp_path / "nowhere", write_jsonl(tmp_path / "s.jsonl", sample_rows(2)), capsys)
    assert "nowhere" in err


def test_corrupt_checkpoint_weights(tmp_path, good_store, series_factory, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(series_factory("olmoe"), broken)
    weights = broken / "step200" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    before = snapshot(good_store)
    err = run_extract(good_store, broken, write_jsonl(tmp_path / "s.jsonl", sample_rows(6)), capsys, run="c")
    assert "step200: cannot load the weights" in err
    for name, digest in before.items():  # nothing stored before was touched
        assert snapshot(good_store)[name] == digest


@pytest.mark.parametrize("change", [dict(num_hidden_layers=2), dict(vocab_size=60)], ids=["layers", "vocab"])
def test_checkpoints_that_differ_within_a_run_are_refused(change, good_store, series_factory, tmp_path, capsys):
    other = series_factory("olmoe", steps=(400,), **change)
    before = snapshot(good_store)
    err = run_extract(good_store, other, write_jsonl(tmp_path / "s.jsonl", sample_rows(6)), capsys)
    assert "use a new run name" in err
    assert snapshot(good_store) == before


def test_a_store_from_a_newer_schema_is_refused(good_store, series_factory, tmp_path, capsys):
    meta = good_store / "store.json"
    meta.write_text(json.dumps({"format": "grokviz-store", "schema_version": SCHEMA_VERSION + 1}))
    before = snapshot(good_store)
    err = run_extract(good_store, series_factory("olmoe"), write_jsonl(tmp_path / "s.jsonl", sample_rows(6)), capsys)
    assert "written by a newer grokviz" in err
    assert snapshot(good_store) == before


def test_a_different_sample_set_under_the_same_run_is_refused(good_store, series_factory, tmp_path, capsys):
    before = snapshot(good_store)
    err = run_extract(good_store, series_factory("olmoe"), write_jsonl(tmp_path / "s.jsonl", sample_rows(7)), capsys)
    assert "the sample set differs" in err
    assert snapshot(good_store) == before


def test_pickle_weights_load_only_through_weights_only(tmp_path, series_factory):
    """A `.bin` checkpoint holding arbitrary pickled objects is refused by weights_only loading."""
    import pickle

    import torch

    evil = tmp_path / "evil" / "step1"
    shutil.copytree(series_factory("olmoe") / "step100", evil)
    (evil / "model.safetensors").unlink()

    class Payload:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    torch.save({"x": Payload()}, evil / "pytorch_model.bin", pickle_protocol=pickle.HIGHEST_PROTOCOL)
    from grokviz.errors import ModelError
    from grokviz.extract.loading import load_model
    from grokviz.inputs.checkpoints import Checkpoint

    with pytest.raises(ModelError, match="cannot load the weights"):
        load_model(Checkpoint(step=1, path=str(evil)), torch.device("cpu"), torch.float32)
