"""Tests of tfxfer/transfer/saving.py (atomic `.keras` saving)."""

import errno

import keras
import pytest

from tfxfer.transfer.saving import save_pretrained


def tiny_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_save_pretrained_full_disk_names_the_path_and_leaves_no_temporary(
    tmp_path, monkeypatch
):
    target = tmp_path / "model.keras"
    model = tiny_model()
    save_pretrained(model, target)
    before = target.read_bytes()

    def full_disk(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:  # a partial write, then no space
            handle.write(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    with pytest.raises(OSError, match=r"No space left on device while saving") as info:
        save_pretrained(model, target, overwrite=True)
    assert info.value.errno == errno.ENOSPC
    assert repr(str(target)) in str(info.value)
    assert "free some space" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert target.read_bytes() == before
