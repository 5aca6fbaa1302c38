"""Fast tests of the demo's task data: generation, splits, tokenisation, answers (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from grokviz.demo.tasks import (
    DEFAULT_TASKS,
    EQUALS,
    FORMULAS,
    TaskSpec,
    build_demo_tokenizer,
    encode_equations,
    generate_equations,
    number_token_ids,
    vocabulary,
)
from grokviz.names import Split

SMALL = (
    TaskSpec("add", "a+b", 11, 0.5),
    TaskSpec("sub", "a-b", 11, 0.3),
    TaskSpec("poly", "a*a+b", 11, 0.7),
)


def test_generation_is_deterministic_for_a_seed() -> None:
    assert generate_equations(DEFAULT_TASKS, seed=3) == generate_equations(DEFAULT_TASKS, seed=3)


def test_seed_changes_the_split_not_the_equations() -> None:
    first, second = generate_equations(SMALL, seed=0), generate_equations(SMALL, seed=1)
    assert [e.text for e in first] == [e.text for e in second]
    assert [e.split for e in first] != [e.split for e in second]


@pytest.mark.parametrize("task", SMALL, ids=lambda t: t.name)
def test_each_task_has_its_own_disjoint_split(task: TaskSpec) -> None:
    equations = [e for e in generate_equations(SMALL, seed=0) if e.task == task.name]
    train = {e.sample_id for e in equations if e.split == Split.TRAIN.value}
    test = {e.sample_id for e in equations if e.split == Split.TEST.value}
    assert not train & test
    assert len(train) + len(test) == len(equations) == task.modulus**2
    assert len(train) == round(task.train_fraction * task.modulus**2)


def test_sample_ids_are_unique_and_readable() -> None:
    equations = generate_equations(SMALL, seed=0)
    assert len({e.sample_id for e in equations}) == len(equations)
    assert equations[1].sample_id == "add-0-1"
    assert equations[1].prompt == "add 0 1 ="
    assert equations[1].text == "add 0 1 = 1"
    assert equations[1].group == "add"


def test_answers_match_the_formulas() -> None:
    for eq in generate_equations(DEFAULT_TASKS, seed=0):
        task = next(t for t in DEFAULT_TASKS if t.name == eq.task)
        words = eq.text.split()
        a, b, answer = int(words[1]), int(words[2]), int(words[4])
        assert answer == FORMULAS[task.formula](a, b) % task.modulus == eq.answer
        assert 0 <= answer < task.modulus


def test_vocabulary_and_tokenizer() -> None:
    words = vocabulary(SMALL)
    assert words[:3] == ["add", "sub", "poly"] and words[-1] == EQUALS
    tokenizer = build_demo_tokenizer(SMALL)
    assert tokenizer.pad_token_id == 0
    assert tokenizer.convert_ids_to_tokens(number_token_ids(tokenizer, SMALL)) == [str(n) for n in range(11)]


def test_tokenisation_round_trip() -> None:
    equations = generate_equations(SMALL, seed=0)
    tokenizer = build_demo_tokenizer(SMALL)
    encoded = encode_equations(equations, tokenizer, SMALL)
    assert tuple(encoded.input_ids.shape) == (len(equations), 5)
    assert encoded.answer_pos == 4
    for i in (0, 57, len(equations) - 1):
        assert tokenizer.decode(encoded.input_ids[i].tolist()) == equations[i].text
        assert encoded.answers[i].item() == tokenizer.convert_tokens_to_ids(str(equations[i].answer))
        assert SMALL[encoded.task_index[i]].name == equations[i].task
    assert encoded.is_train.tolist() == [e.split == Split.TRAIN.value for e in equations]
    assert (encoded.input_ids != tokenizer.unk_token_id).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"formula": "a**b"}, "unknown formula"),
        ({"modulus": 1}, "modulus"),
        ({"train_fraction": 1.0}, "train_fraction"),
        ({"name": "two words"}, "task name"),
        ({"name": "7"}, "task name"),
    ],
    ids=["formula", "modulus", "fraction", "spaces", "numeric-name"],
)
def test_task_validation(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SMALL[0], **change)


def test_duplicate_task_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        generate_equations([SMALL[0], SMALL[0]], seed=0)
