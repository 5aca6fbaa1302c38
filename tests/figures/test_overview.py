"""Overview: checkpoint timeline and the findings paragraph."""

import pandas as pd

from grokviz.figures import overview


def test_timeline_uses_tokens_when_known():
    cp = pd.DataFrame({"step": [1, 2], "tokens": [100, 200], "complete": [True, True]})
    assert overview.checkpoint_timeline(cp).layout.yaxis.title.text == "tokens seen"


def test_findings_need_memorization():
    assert overview.findings_text(None, None, 3) is None


def test_findings_without_pairs():
    mem = pd.DataFrame({"sample_id": ["a"], "group": ["g"], "t_star": [3]})
    text = overview.findings_text(mem, pd.DataFrame(), 3)
    assert "0 were memorised" in text and "No Pretrain -> Test pairs" in text


def test_findings_count_only_positive_delays_as_grokking_and_name_the_most_similar():
    mem = pd.DataFrame({"sample_id": ["a"], "group": ["math"], "t_star": [100]})
    pairs = pd.DataFrame({"domain": "math", "train_group": ["P@100", "P@200", "P@300", "P@400"],
                          "test_group": ["T@50", "T@300", "T@900", "T@500"], "similarity": [0.99, 0.5, 0.8, 0.7],
                          "delay": [-50, 100, 600, 100]})
    text = overview.findings_text(mem, pairs, 1000)
    assert "found in 3 of 4 pairs (the most similar per domain)" in text
    assert "P@300 → T@900 (delay 600 steps); math: P@400 → T@500" in text and "P@200" not in text
    assert "Median delay 100 steps. In 1 pair the test items were solved before" in text
    none = overview.findings_text(mem, pairs.assign(delay=-1), 1000)
    assert "No pair shows grokking" in none and "In 4 pairs" in none
