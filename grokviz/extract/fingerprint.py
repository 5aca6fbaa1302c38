"""A fingerprint of a checkpoint's weights, read from its safetensors files, for provenance.

`weights_fingerprint` hashes, for every tensor of the checkpoint sorted by name, its name, dtype,
shape and the first and last `SAMPLE_BYTES` of its stored bytes (all of a small tensor). Training
changes almost every entry of every tensor between checkpoints, so two checkpoints share a
fingerprint when they hold the same weights (a copy, a revision pushed twice), whatever the
device or dtype they are loaded with, however the files are sharded and whatever their metadata.
Cheap at any size: a 7B checkpoint's ~3,000 tensors are ~25 MB of reads, no tensor is decoded.
`grokviz doctor` compares fingerprints (`grokviz.store.integrity`). Where the files cannot be
found (pickle weights; a hub revision not in the local cache), `checkpoint_fingerprint` is None
and extraction records the stored router weights' hash instead.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from pathlib import Path

from grokviz.inputs.checkpoints import Checkpoint

SAMPLE_BYTES = 4096  # from each end of every tensor


def safetensors_files(checkpoint: Checkpoint) -> list[Path]:
    """The checkpoint's `*.safetensors` files: its local folder, or the hub cache's snapshot of
    its revision (never downloads); [] when there are none."""
    folder = Path(checkpoint.path)
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(checkpoint.path, revision=checkpoint.revision,
                                            local_files_only=True))
        except Exception:  # not cached, not a hub id, offline: no fingerprint from files
            return []
    return sorted(folder.glob("*.safetensors"))


def weights_fingerprint(files: Sequence[Path]) -> str | None:
    """`weights:SHA256` over every tensor in `files` (see the module docstring); None if there are
    no files or one is not a readable safetensors file."""
    tensors: dict[str, tuple[Path, int, dict]] = {}
    try:
        for file in files:
            with open(file, "rb") as handle:
                (size,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(size))
            for name, meta in header.items():
                if name != "__metadata__":
                    tensors[name] = (Path(file), 8 + size, meta)
        if not tensors:
            return None
        digest = hashlib.sha256()
        handles: dict[Path, object] = {}
        try:
            for name in sorted(tensors):
                file, base, meta = tensors[name]
                start, end = (int(x) for x in meta["data_offsets"])
                digest.update(json.dumps([name, meta["dtype"], meta["shape"]]).encode())
                handle = handles.setdefault(file, open(file, "rb"))
                for offset, length in _samples(start, end):
                    handle.seek(base + offset)
                    digest.update(handle.read(length))
        finally:
            for handle in handles.values():
                handle.close()
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
    return "weights:" + digest.hexdigest()


def checkpoint_fingerprint(checkpoint: Checkpoint) -> str | None:
    """The weights fingerprint of one checkpoint, or None where its files cannot be read."""
    return weights_fingerprint(safetensors_files(checkpoint))


def _samples(start: int, end: int) -> list[tuple[int, int]]:
    """(offset, length) of the bytes hashed from a tensor stored at [start, end).

    >>> _samples(0, 100), _samples(0, 10_000)
    ([(0, 100)], [(0, 4096), (5904, 4096)])
    """
    if end - start <= 2 * SAMPLE_BYTES:
        return [(start, end - start)]
    return [(start, SAMPLE_BYTES), (end - SAMPLE_BYTES, SAMPLE_BYTES)]
