"""`evaluate` scores test items like a careful manual computation, resumes, and runs code safely."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from factories import write_jsonl

from grokviz.cli import main
from grokviz.config import ChoiceNorm, EvaluateConfig, ModelRuntime
from grokviz.errors import InputError
from grokviz.evaluate.grading import choice_scores, cut_at_stop, exact_match
from grokviz.evaluate.run import evaluate
from grokviz.evaluate.sandbox import check_program, resolve_sandbox, run_program
from grokviz.inputs.testitems import QUESTION_TEMPLATE, read_items
from grokviz.store.appended import read_appended
from grokviz.store.layout import Store
from grokviz.store.tables import Tables

CHOICE_ITEMS = [
    {"item_id": "a", "group": "math", "question": "w1 w2 w3", "choices": ["w4", "w5 w6", "w7 w8 w9"], "answer": 2},
    {"item_id": "b", "group": "math", "question": "w10 = w11", "choices": ["w12 w13", "w14"], "answer": "w14"},
    {"item_id": "c", "group": "code", "prompt": "the cat sat", "choices": ["w1", "w2", "w3 w4 w5", "cat"], "answer": "B"},
    {"item_id": "d", "group": "code", "question": "w30 + w31 =", "choices": ["w32", "w33 w34 w35 w36"], "answer": 0},
]


@pytest.fixture
def store(small_store, tmp_path) -> Store:
    """A private copy of the session's tiny extracted run 'tiny' (steps 100, 200, 300)."""
    return Store(shutil.copytree(small_store.root, tmp_path / "data"))


def snapshot(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def manual_logliks(folder, context: str, options: list[str]) -> list[float]:
    """One unpadded forward per option; sum of log-softmax over the option's tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    out = []
    for option in options:
        context_ids = tok(context)["input_ids"]
        option_ids = tok(" " + option, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([context_ids + option_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        out.append(sum(float(logp[len(context_ids) + j - 1, t]) for j, t in enumerate(option_ids)))
    return out


def test_choice_scores_equal_a_manual_log_likelihood(store, series_factory, tmp_path):
    tests = write_jsonl(tmp_path / "choice.jsonl", CHOICE_ITEMS)
    config = EvaluateConfig(run="tiny", tests=str(tests), steps=(200,),
                            runtime=ModelRuntime(token_budget=12))  # many small, padded batches
    report = evaluate(config, store, progress=False)
    assert report.steps_done == [200]
    scores = read_appended(store, "tiny", "item_scores").set_index("item_id")
    items = read_items(tests, "choice").set_index("item_id")
    for item_id, item in items.iterrows():
        context = item["prompt"] or QUESTION_TEMPLATE.format(question=item["question"])
        want = manual_logliks(series_factory("olmoe") / "step200", context, item["choices"])
        got = json.loads(scores.loc[item_id, "detail"])
        np.testing.assert_allclose(got, want, atol=1e-4)
        lengths = [len(c) for c in item["choices"]]
        assert scores.loc[item_id, "acc"] == int(np.argmax(want) == item["answer_index"])
        assert scores.loc[item_id, "acc_norm"] == int(np.argmax(np.array(want) / lengths) == item["answer_index"])
        assert scores.loc[item_id, "correct"] == scores.loc[item_id, "acc_norm"]  # default --norm chars


@pytest.mark.parametrize("norm,expected", [(ChoiceNorm.NONE, 0), (ChoiceNorm.CHARS, 1), (ChoiceNorm.TOKENS, 1)],
                         ids=["acc", "acc_norm-chars", "per-token"])
def test_the_norm_decides_correct(norm, expected):
    # option 1 is less likely in total but more likely per character and per token
    scores = choice_scores([-3.0, -4.0], ["ab", "abcdefgh"], [1, 3], answer=1, norm=norm)
    assert scores["correct"] == expected


EXACT_CASES = {
    "stop-then-strip-lowercase-period": (" Paris.\nQuestion: next", "paris", ["\n"], False, 1),
    "earliest-stop-wins": ("19 apples\n\nQ: 2", "19 apples", ["Q:", "\n"], False, 1),
    "last-number": ("so the total is 1,234.", "1234", ["\n"], True, 1),
    "last-number-float": ("it is 12.50", "12.5", ["\n"], True, 1),
    "number-needs-last-number": ("the answer is 42", "42", ["\n"], False, 0),
    "text-after-stop-ignored": ("blue\nred", "red", ["\n"], False, 0),
}


@pytest.mark.parametrize("text,answer,stops,last,expected", EXACT_CASES.values(), ids=EXACT_CASES.keys())
def test_exact_match_cuts_at_stop_and_normalises(text, answer, stops, last, expected):
    assert exact_match(text, answer, stops, use_last_number=last)[0] == expected


def unbatched_generations(folder, prompts: list[str], new_tokens: int) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    texts = []
    for prompt in prompts:
        ids = torch.tensor([tok(prompt)["input_ids"]])
        out = model.generate(input_ids=ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
        texts.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    return texts


def test_exact_generation_stops_normalises_and_batches_like_one_by_one(store, series_factory, tmp_path):
    prompts = ["w3 + w4 =", "w11", "the cat", "w39 w38", "w1 w2 w3", "w5 = w6 + w7 w8 w9 w10"]
    plain = unbatched_generations(series_factory("olmoe") / "step100", prompts, 6)
    words = next(t.split() for t in plain if len(set(t.split()[:3])) == 3)
    stop = words[2]  # a word some item generates third, so its answer is cut before it
    rows = []
    for i, (prompt, text) in enumerate(zip(prompts, plain)):
        cut = cut_at_stop(text, [stop]).strip()
        rows.append({"item_id": f"e{i}", "group": "g", "prompt": prompt,
                     "answer": cut.upper() + "." if cut else "never"})  # case and period normalised away
    tests = write_jsonl(tmp_path / "exact.jsonl", rows)
    assert main(["evaluate", "--store", str(store.root), "--run", "tiny", "--tests", str(tests), "--kind", "exact",
                 "--steps", "100", "--stop", stop, "--max-new-tokens", "6", "--token-budget", "20", "--quiet"]) == 0
    scores = read_appended(store, "tiny", "item_scores").set_index("item_id")
    for i, text in enumerate(plain):  # left-padded batches generate what one-by-one does, up to the stop
        generated = scores.loc[f"e{i}", "detail"]
        assert text.startswith(generated) and cut_at_stop(generated, [stop]) == cut_at_stop(text, [stop])
        assert scores.loc[f"e{i}", "prediction"] == cut_at_stop(text, [stop]).strip().lower()
    expected = [int(bool(cut_at_stop(t, [stop]).strip())) for t in plain]
    assert scores["correct"].tolist() == expected and 0 < sum(expected)


SANDBOX_MODES = [pytest.param("bwrap", marks=pytest.mark.skipif(shutil.which("bwrap") is None,
                                                                reason="bubblewrap (bwrap) is not installed")),
                 "guard"]


@pytest.mark.parametrize("sandbox", SANDBOX_MODES)
def test_code_kills_an_infinite_loop(sandbox):
    started = time.perf_counter()
    # bwrap lets the child start (its PID namespace dies with the program); guard refuses it
    outcome = run_program("import subprocess, sys\ntry:\n"
                          "    subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
                          "except PermissionError:\n    pass\nwhile True:\n    pass\n", timeout=1.0, sandbox=sandbox)
    assert outcome.status == "timeout" and not outcome.passed
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("sandbox", SANDBOX_MODES)
def test_code_cannot_reach_the_network(sandbox):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        program = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3).close()\nprint('reached')\n"
        control = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=10)
        assert control.stdout.strip() == "reached"  # the listener is reachable from outside the sandbox
        outcome = run_program(program, timeout=10, sandbox=sandbox)
    assert outcome.status == "failed" and "reached" not in outcome.output
    if sandbox == "bwrap":  # its own network namespace: loopback only, where nothing listens
        assert "ConnectionRefusedError" in outcome.output, outcome.output
    else:  # the socket guard refuses before any namespace matters
        assert "network access is disabled in the grokviz sandbox" in outcome.output, outcome.output


def test_code_items_pass_fail_and_time_out_end_to_end(store, tmp_path):
    tests = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    rows = [  # the prompt ends in a comment, so whatever the tiny model writes stays a comment
        {"item_id": "solved", "group": "code", "prompt": "def add(a, b):\n    return a + b\n#", "tests": tests,
         "entry_point": "add"},
        {"item_id": "unsolved", "group": "code", "prompt": "def add(a, b):\n    return a - b\n#", "tests": tests,
         "entry_point": "add"},
        {"item_id": "loops", "group": "code", "prompt": "def add(a, b):\n    while True:\n        pass\n#",
         "tests": tests, "entry_point": "add"},
    ]
    path = write_jsonl(tmp_path / "code.jsonl", rows)
    assert main(["evaluate", "--store", str(store.root), "--run", "tiny", "--tests", str(path), "--kind", "code",
                 "--steps", "100", "--max-new-tokens", "4", "--timeout", "2", "--quiet"]) == 2  # not allowed
    assert main(["evaluate", "--store", str(store.root), "--run", "tiny", "--tests", str(path), "--kind", "code",
                 "--steps", "100", "--max-new-tokens", "4", "--timeout", "2", "--allow-code-execution",
                 "--quiet"]) == 0
    scores = read_appended(store, "tiny", "item_scores").set_index("item_id")
    assert scores["correct"].to_dict() == {"solved": 1, "unsolved": 0, "loops": 0}
    assert scores.loc["loops", "detail"].startswith("timeout")
    call = json.loads((store.run_dir("tiny") / "run.json").read_text())["calls"][-1]
    assert call["sandbox"] == "auto" and call["sandbox_used"] == resolve_sandbox("auto").mode


def test_check_program_calls_check_only_when_defined():
    assert check_program("def f():\n", "    return 1", "assert f() == 1", "f").rstrip().endswith("assert f() == 1")
    assert run_program(check_program("def f():\n", "    return 1", "def check(c):\n    assert c() == 2", "f"),
                       timeout=10).status == "failed"


def test_rerun_skips_done_checkpoints_and_refuses_mixed_settings(store, tmp_path, capsys):
    tests = write_jsonl(tmp_path / "choice.jsonl", CHOICE_ITEMS)
    base = ["evaluate", "--store", str(store.root), "--run", "tiny", "--tests", str(tests), "--quiet"]
    assert main(base + ["--steps", "100"]) == 0  # as if interrupted after the first checkpoint
    capsys.readouterr()
    assert main(base) == 0
    assert "at 2 checkpoints (skipped 1" in capsys.readouterr().out
    with Tables(store, "tiny") as tables:
        accuracy = tables.table("accuracy")
        items = tables.table("items")
    assert len(accuracy) == 3 * len(CHOICE_ITEMS) and not accuracy.duplicated(["step", "item_id"]).any()
    assert set(accuracy["split"]) == {"test"} and set(accuracy["group"]) == {"math", "code"}
    assert sorted(items["item_id"]) == ["a", "b", "c", "d"] and items["text"].str.len().gt(0).all()
    before = snapshot(store.root)
    assert main(base + ["--norm", "tokens"]) == 2
    assert "already has accuracy for" in capsys.readouterr().err
    assert snapshot(store.root) == before


def test_fewshot_items_prefix_the_prompt_and_must_not_be_test_items(store, tmp_path, capsys):
    tests = write_jsonl(tmp_path / "choice.jsonl", CHOICE_ITEMS[:2])
    shots = write_jsonl(tmp_path / "shots.jsonl", CHOICE_ITEMS[2:])
    report = evaluate(EvaluateConfig(run="tiny", tests=str(tests), steps=(100,), fewshot=2,
                                     fewshot_file=str(shots)), store, progress=False)
    assert report.steps_done == [100]
    capsys.readouterr()
    assert main(["evaluate", "--store", str(store.root), "--run", "tiny", "--tests", str(tests), "--fewshot", "1",
                 "--fewshot-file", str(tests), "--quiet"]) == 2
    assert "few-shot items are also test items" in capsys.readouterr().err


BAD_TESTS = {
    "no-choices": ('{"item_id": "a", "question": "q", "answer": 0}\n', "choice", "tests.jsonl:1: choices must be a list"),
    "answer-out-of-range": ('{"item_id": "a", "question": "q", "choices": ["x", "y"], "answer": 5}\n', "choice",
                            "tests.jsonl:1: answer must be an index 0-1"),
    "duplicate-id": ('{"item_id": "a", "question": "q", "answer": "1"}\n{"item_id": "a", "question": "r", '
                     '"answer": "2"}\n', "exact", "tests.jsonl:2: duplicate item_id 'a' (field 'item_id')"),
    "no-question": ('{"item_id": "a", "answer": "1"}\n', "exact", "tests.jsonl:1: missing or empty (field 'question')"),
    "kind-mismatch": ('{"item_id": "a", "question": "q", "answer": "1", "kind": "choice"}\n', "exact",
                      "item of kind 'choice' in a 'exact' evaluation (field 'kind')"),
    "bad-entry-point": ('{"item_id": "a", "prompt": "def f():", "tests": "pass", "entry_point": "f()"}\n', "code",
                        "entry_point must be a Python name"),
    "malformed-json": ('{"item_id": "a", \n', "exact", "tests.jsonl:1: malformed JSON"),
}


@pytest.mark.parametrize("content,kind,expected", BAD_TESTS.values(), ids=BAD_TESTS.keys())
def test_bad_tests_file_is_named_and_the_store_unchanged(content, kind, expected, store, tmp_path, capsys):
    path = tmp_path / "tests.jsonl"
    path.write_text(content)
    before = snapshot(store.root)
    assert main(["evaluate", "--store", str(store.root), "--run", "tiny", "--tests", str(path), "--kind", kind,
                 "--allow-code-execution", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and err.count("\n") == 0, err
    assert snapshot(store.root) == before


def test_csv_tests_take_choices_as_a_json_list(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"item_id": ["1"], "group": ["math"], "question": ["q"], "choices": ['["x", "y"]'],
                  "answer": ["y"]}).to_csv(path, index=False)
    assert read_items(path, "choice")[["answer_index", "group"]].values.tolist() == [[1, "math"]]
    path.write_text("item_id,question,choices,answer\n1,q,x|y,0\n")
    with pytest.raises(InputError, match=r"t.csv:2: choices must be a JSON list"):
        read_items(path, "choice")
