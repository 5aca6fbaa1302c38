"""Samples load from JSONL, CSV and Parquet into one validated shape."""

from __future__ import annotations

import pandas as pd
import pytest

from grokviz.errors import InputError
from grokviz.inputs.samples import read_samples

ROWS = [{"sample_id": "a", "text": "w1 w2", "group": "math", "split": "train"},
        {"sample_id": "b", "text": "w3 = w4", "prompt": "w3 ="}]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_every_format_reads_to_the_same_frame(suffix, tmp_path):
    frame = pd.DataFrame(ROWS)
    path = tmp_path / f"s{suffix}"
    if suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif suffix == ".csv":
        frame.fillna("").to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    got = read_samples(path)
    assert got["sample_id"].tolist() == ["a", "b"]
    assert got["group"].tolist() == ["math", "all"]
    assert got["split"].tolist() == ["train", "train"]
    assert got["prompt"].tolist() == ["", "w3 ="]


def test_integer_ids_become_strings(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"sample_id": 7, "text": "w1"}\n')
    assert read_samples(path)["sample_id"].tolist() == ["7"]


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown samples format"):
        (tmp_path / "s.txt").write_text("x")
        read_samples(tmp_path / "s.txt")
    with pytest.raises(InputError, match="samples file not found"):
        read_samples(tmp_path / "none.jsonl")


def test_corrupt_parquet_is_named(tmp_path):
    path = tmp_path / "s.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="s.parquet: not a readable Parquet file"):
        read_samples(path)
