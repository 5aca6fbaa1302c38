"""The OLMoE recipe runs end to end on the bundled sample files, and its documented commands parse."""

from __future__ import annotations

import json
import re
import shlex

import pandas as pd
import pytest
from factories import ROOT, write_jsonl

from grokviz.cli import build_parser, main
from grokviz.inputs.samples import read_samples
from grokviz.inputs.testitems import read_items
from grokviz.store.analyses import read_analysis
from grokviz.store.layout import Store
from grokviz.store.queries import dropped_items
from grokviz.store.tables import Tables
from grokviz.synthetic.bundled import write_bundled

SAMPLES = ROOT / "data" / "samples"
DOMAINS = {"math", "code", "commonsense", "chemistry"}


def test_bundled_files_are_the_generators_output_and_small(tmp_path):
    for path in write_bundled(tmp_path):
        assert path.read_bytes() == (SAMPLES / path.name).read_bytes(), path.name
    assert sum(p.stat().st_size for p in SAMPLES.glob("*.jsonl")) < 200_000
    samples = read_samples(SAMPLES / "pretrain.jsonl")
    assert len(samples) >= 300 and set(samples["group"]) == DOMAINS and samples["text"].is_unique
    for name, kind in (("tests_choice.jsonl", "choice"), ("tests_exact.jsonl", "exact")):
        items = read_items(SAMPLES / name, kind)
        assert set(items["group"]) == DOMAINS and items["question"].is_unique


def recipe_commands() -> list[list[str]]:
    """Every `grokviz ...` command in the recipe's code blocks, continuation lines joined."""
    text = (ROOT / "docs" / "RECIPE.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [shlex.split(line, comments=True)[1:] for line in lines if line.strip().startswith("grokviz ")]


def test_every_command_of_the_recipe_parses():
    parser = build_parser()
    subcommands = set(parser._subparsers._group_actions[0].choices)
    commands = recipe_commands()
    assert {c[0] for c in commands} >= {"extract", "evaluate", "contamination", "analyze", "import-accuracy"}
    for argv in commands:
        if argv[0] == "app" and "app" not in subcommands:
            continue  # the dashboard command lands separately
        parser.parse_args(argv)


def subset(path, out, per_group: int, key: str = "group"):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    kept = pd.DataFrame(rows).groupby(key, sort=False).head(per_group)
    return write_jsonl(out, kept.to_dict("records"))


def test_full_recipe_on_the_bundled_files(series_factory, tmp_path, capsys):
    samples = subset(SAMPLES / "pretrain.jsonl", tmp_path / "pretrain.jsonl", 10)
    choice = subset(SAMPLES / "tests_choice.jsonl", tmp_path / "choice.jsonl", 5)
    exact = subset(SAMPLES / "tests_exact.jsonl", tmp_path / "exact.jsonl", 3)
    store = ["--store", str(tmp_path / "data")]
    run = store + ["--run", "olmoe-tiny"]
    commands = [
        ["extract", "--model", str(series_factory("olmoe")), "--samples", str(samples), *run, "--device", "cpu",
         "--quiet"],
        ["evaluate", *run, "--tests", str(choice), "--device", "cpu", "--quiet"],
        ["evaluate", *run, "--tests", str(exact), "--kind", "exact", "--last-number", "--max-new-tokens", "4",
         "--quiet"],
        ["contamination", *run, "--tests", str(choice), "--step", "300", "--quiet"],
        ["analyze", *run, "--no-projection", "--quiet"],
        ["export", *run, "--table", "accuracy", "--out", str(tmp_path / "accuracy.csv")],
        ["info", *store],
    ]
    for argv in commands:
        assert main(argv) == 0, (argv[0], capsys.readouterr().err)
    accuracy = pd.read_csv(tmp_path / "accuracy.csv")
    assert len(accuracy) == (20 + 12) * 3 and set(accuracy["step"]) == {100, 200, 300}
    assert set(accuracy["group"]) == DOMAINS and set(accuracy["split"]) == {"test"}
    data = Store(tmp_path / "data", create=False)
    assert len(dropped_items(data, "olmoe-tiny")) == 4  # 10% of 5 choice items per domain, rounded
    with Tables(data, "olmoe-tiny") as tables:
        items = tables.table("items")
    assert len(items) == 32 and set(items["kind"]) == {"choice", "exact"}
    generalized = read_analysis(data, "olmoe-tiny", "generalization")
    dropped = dropped_items(data, "olmoe-tiny")
    assert set(generalized["item_id"]) == set(items["item_id"]) - dropped  # the filter holds downstream
    series = read_analysis(data, "olmoe-tiny", "accuracy_series")
    assert DOMAINS <= set(series["group"])


@pytest.mark.parametrize("name", ["tests_choice.jsonl", "tests_exact.jsonl"])
def test_bundled_items_convert_to_the_items_table(name):
    from grokviz.inputs.testitems import items_frame, read_items_any

    frame = items_frame("r", read_items_any(SAMPLES / name))
    assert frame["text"].str.len().gt(10).all() and frame["item_id"].is_unique
