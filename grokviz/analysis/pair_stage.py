"""The pairing stage of `analyze`: Pretrain@p groups matched with Test@q groups by the mean cosine of
their texts' sentence embeddings (METHOD.md 7), each text embedded once per model through the
store's embedding cache."""

from __future__ import annotations

import numpy as np
import pandas as pd

from grokviz import names
from grokviz.config import AnalyzeConfig
from grokviz.metrics.pairing import pair_groups, similarity_matrix
from grokviz.store import appended, embeddings
from grokviz.store.layout import Store


def texts(store: Store, run: str, samples: pd.DataFrame) -> pd.Series:
    """Text by id: the run's samples and its evaluated test items (items win on a clash)."""
    items = appended.read_appended(store, run, "items")
    texts = samples.set_index(names.SAMPLE_ID)[names.TEXT]
    if not items.empty:
        texts = pd.concat([items.drop_duplicates(names.ITEM_ID).set_index(names.ITEM_ID)[names.TEXT],
                           texts[~texts.index.isin(items[names.ITEM_ID])]])
    return texts


def _embedder(store: Store):
    """`embed(texts) -> (n, d)` through the store's embedding cache: each text embedded once per model."""
    from grokviz.analysis.embed import MODEL_TAG, embed_texts  # torch only when pairing is asked for

    cached = embeddings.read_embeddings(store, MODEL_TAG)

    def embed(texts: list[str]) -> np.ndarray:
        keys = [embeddings.text_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in cached}.items())
        if missing:
            vectors = embed_texts([t for _, t in missing])
            embeddings.append_embeddings(store, MODEL_TAG, [k for k, _ in missing], vectors)
            cached.update(zip((k for k, _ in missing), vectors))
        return np.stack([cached[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)

    return embed


def pairs(config: AnalyzeConfig, store: Store, text: pd.Series, memorized: pd.DataFrame,
           generalized: pd.DataFrame) -> pd.DataFrame:
    """Pretrain@p -> Test@q within each domain by mean embedding cosine (METHOD.md 7)."""
    columns = [names.RUN, "domain", "train_group", "test_group", "similarity", "delay"]
    if not config.pairing or generalized.empty:
        return pd.DataFrame(columns=columns)
    embed_texts = _embedder(store)
    done = memorized[memorized["memorized"]]
    sizes = done.groupby("pretrain_group")[names.SAMPLE_ID].transform("size")
    done = done[sizes >= config.min_group_size]  # groups too small to pair (METHOD 7; the Grokking page says so)
    solved = generalized[generalized["generalized"] & generalized[names.ITEM_ID].isin(text.index)]
    frames = []
    for domain in sorted(set(done[names.GROUP]) & set(solved[names.GROUP])):
        train = done[done[names.GROUP] == domain]
        test = solved[solved[names.GROUP] == domain]
        train_emb = {g: embed_texts(text[f[names.SAMPLE_ID]].tolist()) for g, f in train.groupby("pretrain_group")}
        test_emb = {g: embed_texts(text[f[names.ITEM_ID]].tolist()) for g, f in test.groupby("test_group")}
        paired = pair_groups(similarity_matrix(train_emb, test_emb),
                             train.groupby("pretrain_group")["t_star"].first().to_dict(),
                             test.groupby("test_group")["t_hash"].first().to_dict())
        frames.append(paired.assign(run=config.run, domain=domain))
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
