"""Overview page: the run's checkpoints at a glance and the one-paragraph findings summary.

`checkpoint_timeline` draws each checkpoint (step, tokens seen when known) and whether its
extraction is complete; `findings_text` turns the analysis tables `memorization` (sample_id,
group, t_star) and `pairs` (domain, train_group, test_group, delay) into plain Markdown prose.
Neither reads the store. Imports numpy, pandas and plotly only.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from grokviz.figures.style import placeholder, style

NEVER = -1


def checkpoint_timeline(checkpoints: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Checkpoints as markers along the step axis; y = tokens seen when known; hollow = incomplete.

    >>> cp = pd.DataFrame({"step": [100, 200], "tokens": [None, None], "complete": [True, False]})
    >>> list(checkpoint_timeline(cp).data[0].marker.symbol)
    ['circle', 'circle-open']
    """
    if checkpoints.empty:
        return placeholder("No complete checkpoints yet")
    has_tokens = "tokens" in checkpoints and checkpoints["tokens"].notna().any()
    y = checkpoints["tokens"] if has_tokens else [0] * len(checkpoints)
    complete = checkpoints.get("complete", pd.Series(True, index=checkpoints.index)).astype(bool)
    fig = go.Figure(go.Scatter(
        x=checkpoints["step"], y=y, mode="markers+lines" if has_tokens else "markers",
        marker=dict(size=12, symbol=["circle" if c else "circle-open" for c in complete], color="#2E91E5"),
        text=["complete" if c else "incomplete" for c in complete],
        hovertemplate="step %{x:,}<br>%{text}" + ("<br>tokens %{y:,}" if has_tokens else "") + "<extra></extra>",
    ))
    fig.update_xaxes(title="checkpoint step")
    fig.update_yaxes(title="tokens seen" if has_tokens else None, visible=bool(has_tokens))
    return style(fig, title=title, height=260 if has_tokens else 180)


def _memorized_sentence(memorization: pd.DataFrame, last_step: int) -> str:
    """"Of N training samples, M were memorised before the last checkpoint: ..." """
    t = memorization["t_star"]
    early = memorization[(t != NEVER) & (t < last_step)]
    parts = []
    for group, rows in early.groupby("group", sort=True):
        top = rows["t_star"].value_counts().sort_index()
        steps = ", ".join(f"{n} at step {s:,}" for s, n in top.head(3).items())
        parts.append(f"**{group}**: {len(rows)} ({steps}{', ...' if len(top) > 3 else ''})")
    detail = "; ".join(parts) if parts else "none"
    return (f"Of {len(memorization)} training samples, {len(early)} were memorised before the last checkpoint "
            f"(step {last_step:,}): {detail}.")


def _pairs_sentence(pairs: pd.DataFrame, per_domain: int = 2) -> str:
    """"Grokking was found in K of N pairs: ..." naming each domain's most similar grokking pairs
    (positive delay) with their delays, then how many pairs had their test items solved first."""
    if pairs.empty:
        return "No Pretrain -> Test pairs were found, so no grokking delay can be given yet."
    grokked = pairs[pairs["delay"] > 0]
    order = ["domain", "similarity"] if "similarity" in pairs else ["domain", "delay"]
    shown = grokked.sort_values(order, ascending=[True, False]).groupby("domain", sort=True).head(per_domain)
    listed = "; ".join(f"{r.domain}: {r.train_group} → {r.test_group} (delay {int(r.delay):,} steps)"
                       for r in shown.itertuples(index=False))
    earlier = len(pairs) - len(grokked)
    tail = (f" In {earlier} pair{'s' if earlier != 1 else ''} the test items were solved before (or when) the "
            f"training samples were memorised." if earlier else "")
    if grokked.empty:
        return "No pair shows grokking (every test group was solved before its training group was memorised)." + tail
    more = " (the most similar per domain)" if len(shown) < len(grokked) else ""
    return (f"Grokking (memorised first, test items solved later) was found in {len(grokked)} of {len(pairs)} "
            f"pair{'s' if len(pairs) != 1 else ''}{more}: {listed}. Median delay {grokked['delay'].median():,.0f} "
            f"steps.{tail}")


def findings_text(memorization: pd.DataFrame | None, pairs: pd.DataFrame | None, last_step: int) -> str | None:
    """The one-paragraph summary of where memorisation and grokking were found, or None.

    >>> mem = pd.DataFrame({"sample_id": ["a", "b"], "group": ["math", "math"], "t_star": [100, -1]})
    >>> pairs = pd.DataFrame({"domain": ["math"], "train_group": ["Pretrain@100"], "test_group": ["Test@300"],
    ...                       "delay": [200]})
    >>> print(findings_text(mem, pairs, 300))
    Of 2 training samples, 1 were memorised before the last checkpoint (step 300): **math**: 1 (1 at step 100). Grokking (memorised first, test items solved later) was found in 1 of 1 pair: math: Pretrain@100 → Test@300 (delay 200 steps). Median delay 200 steps.
    """
    if memorization is None or memorization.empty:
        return None
    text = _memorized_sentence(memorization, last_step)
    return text + " " + _pairs_sentence(pairs if pairs is not None else pd.DataFrame())
