"""The small ready-made sample set in data/samples/, generated deterministically.

Four domains as in the paper (math, code, commonsense, chemistry), written for this project
from templates and fixed word lists: `pretrain.jsonl` (short training texts), and matching
held-out test items `tests_choice.jsonl` (multiple choice) and `tests_exact.jsonl` (short
exact answers; math answers are numbers, so evaluate it with `--last-number`). Regenerate
with `python -m grokviz.bundled data/samples`; a test checks the committed files equal the
output. For trying the workflow end to end, not for measuring a real model.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

ALKANES = ["methane", "ethane", "propane", "butane", "pentane", "hexane", "heptane", "octane",
           "nonane", "decane"]
GROUPS = [("ethanol", "an alcohol", "hydroxyl group -OH"), ("acetic acid", "a carboxylic acid", "carboxyl group -COOH"),
          ("acetone", "a ketone", "carbonyl group C=O"), ("ethylamine", "an amine", "amino group -NH2"),
          ("ethyl acetate", "an ester", "ester group -COO-"), ("benzaldehyde", "an aldehyde", "aldehyde group -CHO"),
          ("diethyl ether", "an ether", "ether oxygen C-O-C"), ("chloroethane", "a haloalkane", "carbon-chlorine bond")]
FACTS = [("it rains", "open an umbrella", "to stay dry"), ("the room is dark", "switch on a lamp", "to see"),
         ("food is hot", "let it cool", "to avoid burning their mouth"),
         ("the ground is icy", "walk slowly", "to avoid slipping"),
         ("a glass is full", "carry it carefully", "to avoid spilling"),
         ("a baby is asleep", "speak quietly", "to avoid waking it"),
         ("the sun is strong", "wear a hat", "to shade their face"), ("a plant is dry", "water it", "to keep it alive"),
         ("a door is locked", "use a key", "to open it"), ("milk smells sour", "throw it away", "because it has spoiled"),
         ("they are tired", "go to bed", "to rest"), ("they are hungry", "eat a meal", "to get energy"),
         ("a phone battery is low", "charge it", "to keep using it"), ("it is cold", "wear a coat", "to stay warm"),
         ("a floor is dirty", "sweep it", "to clean it"), ("a shirt is wet", "hang it up", "to let it dry"),
         ("a road is busy", "wait at the crossing", "to cross safely"),
         ("a letter is ready", "put a stamp on it", "to send it"),
         ("a knife is dull", "sharpen it", "to cut easily"), ("a tap drips", "close it tightly", "to save water")]
COLORS = [("the sky on a clear day", "blue"), ("fresh grass", "green"), ("snow", "white"), ("coal", "black"),
          ("a ripe banana", "yellow"), ("a ripe tomato", "red"), ("an orange", "orange"), ("milk", "white"),
          ("a lemon", "yellow"), ("a crow", "black")]
CODE_OPS = [("add", "a + b", lambda a, b: a + b), ("subtract", "a - b", lambda a, b: a - b),
            ("multiply", "a * b", lambda a, b: a * b), ("largest", "max(a, b)", max),
            ("smallest", "min(a, b)", min)]


def _math_texts() -> list[str]:
    return [text for a in range(2, 40) for b in range(2, 30) for text in (
        f"What is {a} plus {b}? {a} + {b} = {a + b}.", f"What is {a} times {b}? {a} * {b} = {a * b}.",
        f"A baker has {a + b} loaves and sells {b}, so {a} loaves remain.",
        f"Subtracting {b} from {a + b} leaves {a}, because {a} + {b} = {a + b}.")]


def _code_texts() -> list[str]:
    texts = [t for name, expr, _ in CODE_OPS for t in (f"def {name}(a, b):\n    return {expr}",
                                                       f"The function {name}(a, b) returns {expr}.")]
    texts += [t for n in range(2, 30) for t in (f"total = 0\nfor i in range({n}):\n    total += i\n"
                                                f"print(total)  # {n * (n - 1) // 2}",
                                                f"items = list(range({n}))\nprint(len(items))  # {n}")]
    return texts + [f"print({name}({x}, {y}))  # {fn(x, y)}" for name, _, fn in CODE_OPS
                    for x in range(2, 10) for y in range(2, 10)]


def _commonsense_texts() -> list[str]:
    texts = [t for cause, action, reason in FACTS for t in (
        f"When {cause}, people {action} {reason}.", f"People {action} when {cause}, {reason}.",
        f"If {cause}, most people {action}.", f"Why {action}? Because {cause}; people do it {reason}.")]
    return texts + [t for thing, color in COLORS for t in (
        f"The color of {thing} is {color}.", f"Most people know that {thing} is {color}.")]


def _chemistry_texts() -> list[str]:
    texts = [t for n, name in enumerate(ALKANES, start=1) for t in (
        f"{name.capitalize()} is an alkane with the formula C{n}H{2 * n + 2}.",
        f"The combustion of {name} gives carbon dioxide and water.",
        f"{name.capitalize()} has {n} carbon atoms in an unbranched chain.",
        f"The molar mass of {name} is about {14 * n + 2} g/mol.",
        f"{name.capitalize()} is a saturated hydrocarbon; each carbon forms four single bonds.",
        f"{name.capitalize()} does not dissolve in water, being a nonpolar alkane.")]
    texts += [f"{big.capitalize()} boils at a higher temperature than {small}, being the longer alkane."
              for i, small in enumerate(ALKANES) for big in ALKANES[i + 1: i + 3]]
    return texts + [t for compound, family, group in GROUPS for t in (
        f"{compound.capitalize()} is {family} in organic chemistry; it has the {group}.",
        f"The {group} makes {compound} {family}.",
        f"{compound.capitalize()} is a common example of {family}.")]


TEXTS: dict[str, Callable[[], list[str]]] = {
    "math": _math_texts, "code": _code_texts, "commonsense": _commonsense_texts, "chemistry": _chemistry_texts}


def pretrain_rows(per_domain: int = 100, seed: int = 0) -> list[dict]:
    """Training samples, `per_domain` distinct texts of each domain, ids `DOMAIN-NNN`."""
    rng = random.Random(seed)
    return [{"sample_id": f"{domain}-{i:03d}", "text": text, "group": domain, "split": "train"}
            for domain, texts in TEXTS.items() for i, text in enumerate(rng.sample(texts(), per_domain))]


def _options(rng: random.Random, right: str, wrong: list[str]) -> tuple[list[str], int]:
    choices = [right, *rng.sample([w for w in dict.fromkeys(wrong) if w != right], 3)]
    rng.shuffle(choices)
    return choices, choices.index(right)


def _choice_questions(i: int, rng: random.Random) -> dict[str, tuple[str, str, list[str]]]:
    a, b = 60 + i, rng.randrange(40, 60)
    name, _, fn = CODE_OPS[i % len(CODE_OPS)]
    x, y = rng.randrange(10, 30), 2 + i // len(CODE_OPS)
    cause, action, reason = FACTS[i % len(FACTS)]
    n, alkane = i % 10 + 1, ALKANES[i % 10]
    return {
        "math": (f"What is {a} plus {b}?", str(a + b), [str(a + b + d) for d in (-10, -1, 1, 2, 10)]),
        "code": (f"What does {name}({x}, {y}) return?", str(fn(x, y)),
                 [str(f(x, y)) for _, _, f in CODE_OPS] + [str(x), str(y), str(x + y + 1)]),
        "commonsense": (f"When {cause}, why do people {action}?", reason, [r for _, _, r in FACTS]),
        "chemistry": (f"What is the formula of {alkane}?", f"C{n}H{2 * n + 2}",
                      [f"C{n}H{2 * n + 2 + d}" for d in (-4, -2, 2, 4)]) if i < 10 else
                     (f"How many carbon atoms does {alkane} have?", str(n), [str(n + d) for d in (-1, 1, 2, 3, 4)]),
    }


def choice_rows(per_domain: int = 20, seed: int = 1) -> list[dict]:
    """Multiple-choice items, four options each, answers as indices; all questions distinct."""
    rng = random.Random(seed)
    rows = []
    for i in range(per_domain):
        for domain, (question, right, wrong) in _choice_questions(i, rng).items():
            choices, answer = _options(rng, right, wrong)
            rows.append({"item_id": f"{domain}-c{i:02d}", "group": domain, "question": question,
                         "choices": choices, "answer": answer})
    return sorted(rows, key=lambda r: (list(TEXTS).index(r["group"]), r["item_id"]))


def exact_rows(per_domain: int = 20) -> list[dict]:
    """Short-answer items: numbers (math, code, chemistry) and words (commonsense); distinct."""
    rows = []
    for i in range(per_domain):
        n, alkane = i % 10 + 1, ALKANES[i % 10]
        thing, color = COLORS[i % len(COLORS)]
        cause, action, _ = FACTS[i % len(FACTS)]
        items = {"math": (f"What is {70 + i} minus {13 + 2 * i}?", str(57 - i)),
                 "code": (f"What does len(list(range({31 + 3 * i}))) return?", str(31 + 3 * i)),
                 "commonsense": (f"What is the color of {thing}?", color) if i < len(COLORS) else
                                (f"When {cause}, what do people do?", action),
                 "chemistry": (f"How many hydrogen atoms does {alkane} have?", str(2 * n + 2)) if i < 10 else
                              (f"How many carbon atoms does {alkane} have?", str(n))}
        rows += [{"item_id": f"{domain}-e{i:02d}", "group": domain, "question": q, "answer": answer}
                 for domain, (q, answer) in items.items()]
    return sorted(rows, key=lambda r: (list(TEXTS).index(r["group"]), r["item_id"]))


def write_bundled(folder: str | Path) -> list[Path]:
    """Write the three files into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"pretrain.jsonl": pretrain_rows(), "tests_choice.jsonl": choice_rows(),
             "tests_exact.jsonl": exact_rows()}
    for name, rows in files.items():
        (folder / name).write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return [folder / name for name in files]


if __name__ == "__main__":
    for path in write_bundled(sys.argv[1] if len(sys.argv) > 1 else "data/samples"):
        print(path)
