"""Writer locks and the change times doctor reads beside them."""

from __future__ import annotations

import shutil
from pathlib import Path

from grokviz.store import locks


def test_newest_change_of_a_folder_that_goes_while_it_is_walked(tmp_path, monkeypatch):
    """A writer publishes (renames) its `.partial` folder while doctor walks it: no error, and
    the folder counts as gone (doctor then sees it published)."""
    folder = tmp_path / "shard-0-of-1.partial"
    folder.mkdir()
    (folder / "part-00000.samples.parquet").write_bytes(b"x")
    assert locks.newest_change(folder) > 0
    def publish_then_walk(self, pattern):
        shutil.move(folder, tmp_path / "shard-0-of-1")  # what the writer does meanwhile
        yield from ()  # pathlib found the folder, then its scandir finds it gone:
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "rglob", publish_then_walk)
    assert locks.newest_change(folder) == 0.0
