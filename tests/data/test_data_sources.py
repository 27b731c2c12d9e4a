"""Finding datasets: --data-root (torchvision layout), the user cache, Debian's Fashion-MNIST, and the message
when a dataset is nowhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cnngrade.data import DataError, DatasetNotFound, cache_dir, datasets, load_dataset
from cnngrade.data.split import FASHION_MNIST_CLASSES


@pytest.fixture(autouse=True)
def empty_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with an empty user cache and no Debian folder, unless it sets them."""
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian" / "fashion-mnist")


def assert_same(split, images: np.ndarray, labels: np.ndarray) -> None:
    assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
    assert np.array_equal(split.images.numpy(), images) and np.array_equal(split.labels.numpy(), labels)


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CNNGRADE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "cnngrade"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "cnngrade"


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_torchvision_layout_under_data_root(
    tmp_path: Path, datakit, arrays, name: str, folder: str, gz: bool
) -> None:
    datakit.write_dataset(tmp_path / "root" / folder / "raw", arrays, gz=gz)
    train, test = load_dataset(name, root=tmp_path / "root")
    assert_same(train, arrays.train_images, arrays.train_labels)
    assert_same(test, arrays.test_images, arrays.test_labels)
    assert (train.name, test.name) == (f"{name}-train", f"{name}-test")
    if name == "fashion-mnist":
        assert train.classes == FASHION_MNIST_CLASSES


def test_files_directly_in_data_root(tmp_path: Path, datakit, arrays) -> None:
    datakit.write_dataset(tmp_path / "flat", arrays, gz=True)
    train, _ = load_dataset("mnist", root=tmp_path / "flat")
    assert_same(train, arrays.train_images, arrays.train_labels)


def test_user_cache(tmp_path: Path, datakit, arrays, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "cache"))
    datakit.write_dataset(tmp_path / "cache" / "MNIST" / "raw", arrays)
    location = datasets.find_dataset("mnist")
    assert location.folder == tmp_path / "cache" / "MNIST" / "raw" and "user cache" in location.origin
    _, test = load_dataset("mnist")
    assert_same(test, arrays.test_images, arrays.test_labels)


def test_our_cache_layout_is_torchvisions(tmp_path: Path, datakit, arrays) -> None:
    """A cache filled by cnngrade is also usable by torchvision.datasets.MNIST (no download)."""
    from torchvision.datasets import MNIST

    datakit.write_dataset(tmp_path / "cache" / "MNIST" / "raw", arrays)
    data = MNIST(str(tmp_path / "cache"), train=False, download=False)
    assert np.array_equal(data.data.numpy(), arrays.test_images)


def test_fashion_mnist_from_debian_package(
    tmp_path: Path, datakit, arrays, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real /usr/share/datasets/fashion-mnist when the package is installed; else a fake one like it."""
    real = Path("/usr/share/datasets/fashion-mnist")
    names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]  # what dataset-fashion-mnist installs
    if all((real / n).is_file() for n in names):
        monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", real)
        train, test = load_dataset("fashion-mnist")
        assert (len(train), len(test)) == (60000, 10000)
        assert train.class_counts() == [6000] * 10 and test.class_counts() == [1000] * 10
        expected_folder = real
    else:
        fake = datakit.write_dataset(
            tmp_path / "usr" / "share" / "datasets" / "fashion-mnist", arrays, gz=True
        )
        assert sorted(p.name for p in fake.iterdir()) == sorted(names)
        monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", fake)
        train, test = load_dataset("fashion-mnist")
        assert_same(train, arrays.train_images, arrays.train_labels)
        expected_folder = fake
    assert train.source == str(expected_folder) and train.classes == FASHION_MNIST_CLASSES
    assert datasets.find_dataset("fashion-mnist").origin == "Debian package dataset-fashion-mnist"


def test_missing_mnist_message_lists_every_way(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("mnist", root=tmp_path / "nowhere")
    message = str(info.value)
    assert message.startswith("Dataset 'mnist' was not found. Searched:")
    for expected in (
        str(tmp_path / "nowhere" / "MNIST" / "raw"),
        str(tmp_path / "nowhere"),
        str(tmp_path / "empty-cache" / "MNIST" / "raw"),
        "cnngrade data fetch mnist",
        "--online",
        "--data-root DIR",
        "CNNGRADE_CACHE",
        "train-images-idx3-ubyte[.gz]",
        "mnist-bundled",
    ):
        assert expected in message, expected
    assert "Traceback" not in message and "apt-get" not in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataError)


def test_missing_fashion_mnist_message_names_the_apt_package() -> None:
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("fashion-mnist")
    message = str(info.value)
    for expected in (
        "apt-get install dataset-fashion-mnist",
        str(datasets.DEBIAN_FASHION_MNIST_DIR),
        "FashionMNIST/raw",
        "--data-root DIR",
        "no such folder",
    ):
        assert expected in message, expected


def test_incomplete_folder_says_what_is_missing(tmp_path: Path, datakit, arrays) -> None:
    folder = datakit.write_dataset(tmp_path / "root" / "MNIST" / "raw", arrays)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFound, match=r"missing t10k-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path / "root")


def test_mismatched_counts_are_an_error(tmp_path: Path, datakit) -> None:
    arrays = datakit.make_arrays()
    arrays.test_labels = arrays.test_labels[:-1]
    datakit.write_dataset(tmp_path / "root" / "MNIST" / "raw", arrays)
    with pytest.raises(DataError, match="20 images but .* 19 labels"):
        load_dataset("mnist", root=tmp_path / "root")


def test_names(tmp_path: Path) -> None:
    train, test = load_dataset("mnist-bundled")
    assert (len(train), len(test)) == (12000, 10000)
    assert load_dataset("bundled")[0].name == "mnist-bundled-train"
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")
