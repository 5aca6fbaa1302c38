"""The sentence-embedding cache: vectors of texts by model and text hash, shared by all runs.

    STORE/cache/embeddings/MODEL/PART.parquet      key (sha256 of the text), vector (float32)

Pairing (METHOD 7) embeds every memorised sample and solved test item; texts rarely change
between analyses, so each is embedded once per model. Parts are appended atomically and never
rewritten; a part that cannot be read is ignored (its texts are embedded again).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from grokviz.errors import StoreError
from grokviz.store.layout import Store, atomic_write_table, read_parquet

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def text_key(text: str) -> str:
    """The cache key of a text.

    >>> len(text_key("pow3 12 7 = 7"))
    32
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _folder(store: Store, model: str):
    if not MODEL_NAME.fullmatch(model):
        raise StoreError(f"{model!r} is not an embedding model name")
    return store.root / "cache" / "embeddings" / model


def read_embeddings(store: Store, model: str) -> dict[str, np.ndarray]:
    """Every cached vector of `model`, by text key."""
    found: dict[str, np.ndarray] = {}
    for path in sorted(_folder(store, model).glob("*.parquet")):
        try:
            table = read_parquet(path)
        except StoreError:
            continue
        vectors = np.stack(table.column("vector").to_numpy(zero_copy_only=False)) if table.num_rows else []
        found.update(zip(table.column("key").to_pylist(), vectors))
    return found


def append_embeddings(store: Store, model: str, keys: Sequence[str], vectors: np.ndarray) -> None:
    """Add one part of vectors (n, d) for `keys`."""
    if not len(keys):
        return
    table = pa.table({"key": pa.array(list(keys), pa.string()),
                      "vector": pa.array(list(np.asarray(vectors, dtype=np.float32)), pa.list_(pa.float32()))})
    atomic_write_table(_folder(store, model) / f"{uuid.uuid4().hex}.parquet", table)
