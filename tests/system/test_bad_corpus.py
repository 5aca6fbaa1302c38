"""Every file of the bad-input corpus (tests/data/bad/) is refused by the CLI with its own error.

MANIFEST.json maps each file to the command that reads it and a substring of the one-line error
it must produce. Each case runs through `grokviz.cli.main` on a real store and must exit with
status 2, print exactly that line, and leave the store byte for byte unchanged. Files too big to
commit (megabyte lines) are written by the test from the manifest's `generated` section.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from factories import ROOT, snapshot

from grokviz.cli import main

CORPUS = ROOT / "tests" / "data" / "bad"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
CASES = [(section, name, command, expected) for section in ("files", "generated")
         for name, commands in MANIFEST[section].items() for command, expected in commands.items()]
MEGABYTE = 1_000_000


def generate(name: str, folder: Path) -> Path:
    """The manifest's generated files: lines of a megabyte and more."""
    path = folder / name
    if name == "samples-huge-line.jsonl":  # an unterminated string 2 MB long
        path.write_text('{"sample_id": "a", "text": "w1"}\n{"sample_id": "b", "text": "' + "w1 " * 700_000 + "\n")
    elif name == "samples-huge-duplicate-id.jsonl":
        path.write_text("".join(json.dumps({"sample_id": "x" * MEGABYTE, "text": t}) + "\n" for t in ("w1", "w2")))
    elif name == "accuracy-huge-item-id.csv":
        path.write_text(f"step,item_id,group,correct\n100,q1,odd,1\n100,{'y' * MEGABYTE},odd,0\n")
    else:
        raise AssertionError(f"no generator for {name}")
    return path


def cli_args(command: str, path: Path, store: Path, model: Path) -> list[str]:
    """The full command line: the manifest's command and flags, plus store, run and the file."""
    name, *extra = shlex.split(command)
    extra = [str(CORPUS / arg) if (CORPUS / arg).exists() else arg for arg in extra]
    flags = {"extract": ["--model", str(model), "--samples", str(path), "--run", "fresh", "--quiet"],
             "evaluate": ["--tests", str(path), "--run", "tiny", "--device", "cpu", "--quiet"],
             "import-accuracy": ["--file", str(path), "--run", "tiny"]}[name]
    return [name, "--store", str(store), *flags, *extra]


@pytest.fixture(scope="module")
def store(tmp_path_factory, small_store) -> Path:
    """A copy of the extracted tiny store (run 'tiny': 12 samples, steps 100, 200, 300)."""
    return Path(shutil.copytree(small_store.root, tmp_path_factory.mktemp("corpus") / "data"))


def test_the_corpus_is_complete_small_and_listed():
    files = {p.name for p in CORPUS.iterdir()} - {"MANIFEST.json"}
    assert files == set(MANIFEST["files"]), files ^ set(MANIFEST["files"])
    assert len(files) >= 30
    assert max((CORPUS / name).stat().st_size for name in files) < 100_000
    assert not set(MANIFEST["generated"]) & files


@pytest.mark.parametrize("section, name, command, expected", CASES, ids=[c[1] for c in CASES])
def test_bad_input_is_refused_with_one_clear_line(section, name, command, expected, store, series_factory,
                                                  tmp_path, capsys):
    path = CORPUS / name if section == "files" else generate(name, tmp_path)
    before = snapshot(store)
    capsys.readouterr()
    assert main(cli_args(command, path, store, series_factory("olmoe"))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("grokviz: error: ") and err.count("\n") == 0, err[:500]
    assert expected in err, err[:500]
    assert len(err) < 1_000, f"{len(err)} characters: a quoted value was not cut short"
    assert snapshot(store) == before


@pytest.mark.parametrize("content", [b"\xef\xbb\xbfsample_id,text\na,w1 w2\n",
                                     b'\xef\xbb\xbf{"sample_id": "a", "text": "w1 w2"}\n'], ids=["csv", "jsonl"])
def test_a_byte_order_mark_is_not_data(content, tmp_path):
    from grokviz.inputs.samples import read_samples

    path = tmp_path / ("s.csv" if content.startswith(b"\xef\xbb\xbfsample_id") else "s.jsonl")
    path.write_bytes(content)
    assert read_samples(path)[["sample_id", "text"]].values.tolist() == [["a", "w1 w2"]]


def test_right_to_left_text_and_escaped_control_characters_in_text_are_data(tmp_path):
    from grokviz.inputs.samples import read_samples

    path = tmp_path / "s.jsonl"
    path.write_text('{"sample_id": "he-1", "text": "\u05e9\u05dc\u05d5\u05dd w1", "group": "\u05e2\u05d1"}\n'
                    '{"sample_id": "emoji", "text": "\\ud83d\\ude00 tab\\there"}\n', encoding="utf-8")
    assert read_samples(path)["text"].tolist() == ["\u05e9\u05dc\u05d5\u05dd w1", "\U0001f600 tab\there"]
