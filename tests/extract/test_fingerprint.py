"""The weights fingerprint extraction records: the same weights give the same fingerprint however
they are sharded, other weights another; no safetensors files, no fingerprint."""

from __future__ import annotations

import shutil

from grokviz.extract.fingerprint import checkpoint_fingerprint, safetensors_files, weights_fingerprint
from grokviz.inputs.checkpoints import Checkpoint
from grokviz.synthetic.tiny import tiny_model


def test_same_weights_same_fingerprint_however_sharded_other_weights_another(series_factory, tmp_path):
    series = series_factory("olmoe")
    one = checkpoint_fingerprint(Checkpoint(step=200, path=str(series / "step200")))
    assert one is not None and one.startswith("weights:")
    copy = shutil.copytree(series / "step200", tmp_path / "copy")
    assert checkpoint_fingerprint(Checkpoint(step=250, path=str(copy))) == one
    assert checkpoint_fingerprint(Checkpoint(step=300, path=str(series / "step300"))) != one

    model = tiny_model("olmoe", seed=3)
    model.save_pretrained(tmp_path / "whole")
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    sharded = safetensors_files(Checkpoint(step=0, path=str(tmp_path / "sharded")))
    assert len(sharded) > 1
    assert weights_fingerprint(sharded) == checkpoint_fingerprint(Checkpoint(step=0, path=str(tmp_path / "whole")))


def test_no_safetensors_files_no_fingerprint(tmp_path):
    assert checkpoint_fingerprint(Checkpoint(step=0, path=str(tmp_path))) is None
    assert checkpoint_fingerprint(Checkpoint(step=0, path="nobody/nothing-cached", revision="step1")) is None
    (tmp_path / "model.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad}")
    assert weights_fingerprint([tmp_path / "model.safetensors"]) is None
