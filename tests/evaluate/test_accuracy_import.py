"""`import-accuracy` reads per-item, per-task and lm-evaluation-harness files, or refuses them whole."""

from __future__ import annotations

import json
import shutil

import pytest
from factories import write_jsonl

from grokviz.cli import main
from grokviz.store.appended import read_appended
from grokviz.store.layout import Store
from grokviz.store.tables import Tables

STAMP_1, STAMP_2 = "2025-01-02T10-00-00.000001", "2025-01-03T11-30-00.000002"


def lm_eval_results(revision: str, arc_norm: float, *, model_args: str | None = None) -> dict:
    """A results file as lm-evaluation-harness 0.4 writes it (fields it always has, trimmed)."""
    return {
        "results": {
            "arc_easy": {"alias": "arc_easy", "acc,none": 0.5, "acc_stderr,none": 0.25,
                         "acc_norm,none": arc_norm, "acc_norm_stderr,none": 0.25},
            "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.1, "exact_match_stderr,strict-match": 0.05,
                      "exact_match,flexible-extract": 0.3, "exact_match_stderr,flexible-extract": 0.05},
            "mmlu_college_chemistry": {"alias": " - college_chemistry", "acc,none": 0.32,
                                       "acc_stderr,none": 0.04},
        },
        "group_subtasks": {"arc_easy": [], "gsm8k": [], "mmlu_college_chemistry": []},
        "configs": {"arc_easy": {"task": "arc_easy", "output_type": "multiple_choice"}},
        "versions": {"arc_easy": 1.0, "gsm8k": 3.0, "mmlu_college_chemistry": 1.0},
        "n-shot": {"arc_easy": 0, "gsm8k": 5, "mmlu_college_chemistry": 0},
        "config": {"model": "hf", "batch_size": "auto", "device": "cuda:0",
                   "model_args": model_args or f"pretrained=allenai/OLMoE-1B-7B-0924,revision={revision},dtype=bfloat16"},
        "git_hash": "abc1234", "date": 1735812000.0,
    }


def arc_samples(correct_norm: list[int]) -> list[dict]:
    return [{"doc_id": i, "doc": {"id": f"Mercury_{i}", "question": "...", "choices": {}},
             "target": 0, "arguments": [["Question: ...\nAnswer:", " a"]], "resps": [[[-1.0, False]]],
             "filtered_resps": [[-1.0, False]], "doc_hash": "h", "prompt_hash": "p", "target_hash": "t",
             "filter": "none", "metrics": ["acc", "acc_norm"], "acc": 1.0 - c, "acc_norm": float(c)}
            for i, c in enumerate(correct_norm)]


@pytest.fixture
def store(small_store, tmp_path) -> Store:
    return Store(shutil.copytree(small_store.root, tmp_path / "data"))


@pytest.fixture
def lm_eval_dir(tmp_path):
    folder = tmp_path / "out" / "allenai__OLMoE-1B-7B-0924"
    folder.mkdir(parents=True)
    for stamp, revision, norm, correct in ((STAMP_1, "step100-tokens1B", 0.25, [0, 1, 0, 0]),
                                           (STAMP_2, "step300-tokens3B", 0.75, [1, 1, 0, 1])):
        (folder / f"results_{stamp}.json").write_text(json.dumps(lm_eval_results(revision, norm), indent=2))
        write_jsonl(folder / f"samples_arc_easy_{stamp}.jsonl", arc_samples(correct))
    return tmp_path / "out"


def run_import(store, *args) -> int:
    return main(["import-accuracy", "--store", str(store.root), "--run", "tiny", *map(str, args)])


def snapshot(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_lm_eval_results_give_steps_tasks_and_accuracies(store, lm_eval_dir, capsys):
    assert run_import(store, "--file", lm_eval_dir, "--task-group", "mmlu_college_chemistry=chemistry") == 0
    assert "imported 8 item rows and 6 task rows (lm-eval) at steps [100, 300]" in capsys.readouterr().out
    with Tables(store, "tiny") as tables:
        tasks = tables.query("SELECT step, \"group\", task, metric, accuracy, split FROM task_accuracy "
                             "ORDER BY step, task")
        accuracy = tables.table("accuracy")
    assert tasks.values.tolist() == [
        [100, "arc_easy", "arc_easy", "acc_norm,none", 0.25, "test"],
        [100, "gsm8k", "gsm8k", "exact_match,strict-match", 0.1, "test"],
        [100, "chemistry", "mmlu_college_chemistry", "acc,none", 0.32, "test"],
        [300, "arc_easy", "arc_easy", "acc_norm,none", 0.75, "test"],
        [300, "gsm8k", "gsm8k", "exact_match,strict-match", 0.1, "test"],
        [300, "chemistry", "mmlu_college_chemistry", "acc,none", 0.32, "test"],
    ]
    per_step = accuracy.groupby("step")["correct"].apply(list).to_dict()
    assert per_step == {100: [0, 1, 0, 0], 300: [1, 1, 0, 1]}  # acc_norm of each sample, by doc_id
    assert sorted(set(accuracy["item_id"])) == [f"arc_easy/{i}" for i in range(4)]
    assert set(accuracy["group"]) == {"arc_easy"}
    capsys.readouterr()
    assert run_import(store, "--file", lm_eval_dir, "--task-group", "mmlu_college_chemistry=chemistry") == 0
    assert "already in the store" in capsys.readouterr().out


def test_metric_can_be_chosen(store, lm_eval_dir):
    assert run_import(store, "--file", lm_eval_dir, "--metric", "acc") == 0
    tasks = read_appended(store, "tiny", "task_accuracy")
    assert set(tasks["task"]) == {"arc_easy", "mmlu_college_chemistry"}  # gsm8k reports no acc
    assert set(tasks.loc[tasks["task"] == "arc_easy", "accuracy"]) == {0.5}
    assert read_appended(store, "tiny", "accuracy").groupby("step")["correct"].sum().to_dict() == {100: 3, 300: 1}


def test_checkpoint_names_without_a_step_need_a_map(store, tmp_path, capsys):
    path = tmp_path / "results_final.json"
    path.write_text(json.dumps(lm_eval_results("", 0.5, model_args="pretrained=/ckpts/olmoe/final,dtype=bfloat16")))
    before = snapshot(store.root)
    assert run_import(store, "--file", path) == 2
    assert "pass --checkpoint-map /ckpts/olmoe/final=STEP" in capsys.readouterr().err
    assert snapshot(store.root) == before
    assert run_import(store, "--file", path, "--checkpoint-map", "final=200") == 0
    assert set(read_appended(store, "tiny", "task_accuracy")["step"]) == {200}


def test_items_and_tasks_files(store, tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("checkpoint,item_id,group,correct\nstep100,q1,math,1\nstep100,q2,math,false\n"
                     "step200-tokens2B,q1,math,true\n")
    assert run_import(store, "--file", items) == 0
    accuracy = read_appended(store, "tiny", "accuracy").sort_values(["step", "item_id"])
    assert accuracy[["step", "item_id", "correct", "split"]].values.tolist() == [
        [100, "q1", 1, "test"], [100, "q2", 0, "test"], [200, "q1", 1, "test"]]
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [{"step": 300, "group": "math", "accuracy": 0.4},
                                                    {"step": 300, "group": "code", "accuracy": 0.6}])
    assert run_import(store, "--file", tasks) == 0
    assert read_appended(store, "tiny", "task_accuracy")["accuracy"].sum() == pytest.approx(1.0)


def test_tests_file_checks_items_and_stores_their_texts(store, tmp_path, capsys):
    tests = write_jsonl(tmp_path / "tests.jsonl", [{"item_id": "q1", "group": "math", "question": "1 + 1 =",
                                                    "answer": "2"}])
    good = write_jsonl(tmp_path / "good.jsonl", [{"step": 100, "item_id": "q1", "group": "math", "correct": 1}])
    assert run_import(store, "--file", good, "--tests", tests) == 0
    assert read_appended(store, "tiny", "items")[["item_id", "text"]].values.tolist() == [["q1", "1 + 1 = 2"]]
    unknown = write_jsonl(tmp_path / "unknown.jsonl", [{"step": 200, "item_id": "q9", "group": "math", "correct": 1}])
    capsys.readouterr()
    assert run_import(store, "--file", unknown) == 2  # the run now knows its items
    assert "1 item ids the run does not know: ['q9']" in capsys.readouterr().err


BAD = {
    "unknown-step": ("items.csv", "step,item_id,group,correct\n100,a,g,1\n999,a,g,1\n555,b,g,0\n",
                     "steps [555, 999] are not checkpoints of run 'tiny' (it has [100, 200, 300])"),
    "not-zero-one": ("items.csv", "step,item_id,group,correct\n100,a,g,2\n",
                     "items.csv:2: correct must be 0 or 1 (or true/false), got '2' (field 'correct')"),
    "duplicate": ("items.jsonl", '{"step": 100, "item_id": "a", "correct": 1}\n{"step": 100, "item_id": "a", "correct": 0}\n',
                  "item 'a' appears twice at step 100"),
    "accuracy-above-one": ("tasks.csv", "step,group,accuracy\n100,math,1.5\n",
                           "tasks.csv:2: accuracy must be a number in [0, 1], got '1.5'"),
    "no-step": ("items.csv", "item_id,group,correct\na,g,1\n", "items.csv:2: needs a 'step' or a 'checkpoint' column"),
    "unknown-format": ("x.csv", "step,value\n100,1\n", "cannot tell the format"),
    "results-without-results": ("results_x.json", '{"config": {}, "results": {}}', "no 'results' object"),
    "malformed-results": ("results_y.json", '{"results": {', "malformed JSON"),
}


@pytest.mark.parametrize("name,content,expected", BAD.values(), ids=BAD.keys())
def test_bad_files_give_specific_errors_and_leave_the_store_unchanged(name, content, expected, store, tmp_path,
                                                                     capsys):
    path = tmp_path / name
    path.write_text(content)
    fmt = ["--format", "lm-eval"] if name.endswith(".json") else []
    before = snapshot(store.root)
    assert run_import(store, "--file", path, *fmt) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and err.count("\n") == 0, err
    assert snapshot(store.root) == before


def test_overlapping_results_are_refused(store, tmp_path, capsys):
    first = write_jsonl(tmp_path / "a.jsonl", [{"step": 100, "item_id": "q", "correct": 1}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"step": 100, "item_id": "q", "correct": 0}])
    assert run_import(store, "--file", first) == 0
    before = snapshot(store.root)
    capsys.readouterr()
    assert run_import(store, "--file", second) == 2
    assert "already has accuracy for 1 of these (step, item_id)" in capsys.readouterr().err
    assert snapshot(store.root) == before
