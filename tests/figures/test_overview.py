"""Overview: checkpoint timeline and the findings paragraph."""

import pandas as pd

from grokviz.figures import overview


def test_timeline_uses_tokens_when_known():
    cp = pd.DataFrame({"step": [1, 2], "tokens": [100, 200], "complete": [True, True]})
    assert overview.checkpoint_timeline(cp).layout.yaxis.title.text == "tokens seen"


def test_findings_need_memorisation():
    assert overview.findings_text(None, None, 3) is None


def test_findings_without_pairs():
    mem = pd.DataFrame({"sample_id": ["a"], "group": ["g"], "t_star": [3]})
    text = overview.findings_text(mem, pd.DataFrame(), 3)
    assert "0 were memorised" in text and "No Pretrain -> Test pairs" in text
