"""CIFAR-10 in torchvision's layout (cnngrade.data.cifar): read as torchvision reads it, and a planted
pickle refused instead of run."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torchvision

from cnngrade.data import DataError, load_dataset
from cnngrade.data.cifar import CIFAR10_FOLDER
from tests.cifar_data import write_cifar10_like


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return write_cifar10_like(tmp_path_factory.mktemp("cifar"), train=50, test=20)


def test_the_generated_dataset_reads_as_torchvision_reads_it(root, monkeypatch):
    """Same images (HWC in torchvision, CHW here), labels and classes as torchvision.datasets.CIFAR10
    (whose MD5 checks would refuse a generated folder: they are switched off for this comparison)."""
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: True)
    train, test = load_dataset("cifar10", root)
    assert (len(train), len(test), tuple(train.images.shape[1:])) == (50, 20, (3, 32, 32))
    for split, is_train in ((train, True), (test, False)):
        theirs = torchvision.datasets.CIFAR10(str(root), train=is_train, download=False)
        np.testing.assert_array_equal(split.images.permute(0, 2, 3, 1).numpy(), theirs.data)
        assert split.labels.tolist() == theirs.targets and split.classes == tuple(theirs.classes)
    assert load_dataset("cifar-10", root / CIFAR10_FOLDER)[1].labels.tolist() == test.labels.tolist()


class Planted:
    def __reduce__(self):
        return (print, ("ran",))


def test_a_pickle_naming_anything_but_arrays_is_refused(root, tmp_path, capsys):
    planted = tmp_path / CIFAR10_FOLDER
    planted.mkdir()
    for path in (root / CIFAR10_FOLDER).iterdir():
        (planted / path.name).write_bytes(path.read_bytes())
    (planted / "test_batch").write_bytes(pickle.dumps({"data": Planted(), "labels": []}, protocol=2))
    with pytest.raises(DataError, match=r"test_batch: not a CIFAR-10 batch file \(it names __builtin__.print"):
        load_dataset("cifar10", tmp_path)
    assert "ran" not in capsys.readouterr().out


def test_a_missing_cifar10_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", tmp_path)
    message = str(error.value)
    assert f"{tmp_path / CIFAR10_FOLDER}  (--data-root: no such folder)" in message
    assert "torchvision.datasets.CIFAR10('DIR', download=True)" in message and "[accuracy] data_root" in message
