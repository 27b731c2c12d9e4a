"""Reading CIFAR-10 in its "python version" layout, the one torchvision's ``datasets.CIFAR10`` uses.

The folder ``cifar-10-batches-py/`` holds five training batches ``data_batch_1`` ... ``data_batch_5`` and
``test_batch``, each a pickled dict with ``data``, a uint8 array ``(N, 3072)`` (each row the red, then
green, then blue 32x32 plane, row by row), and ``labels``, N integers in 0..9; ``batches.meta`` holds the
``label_names``. Images come out as uint8 ``(N, 3, 32, 32)``.

The files are pickles, and unpickling runs whatever a pickle names: they are read with an unpickler that
builds only numpy arrays and plain Python values, so a damaged or planted file raises
:class:`~cnngrade.data.errors.DataError` instead of running code. The MD5 sums torchvision checks are not
checked: a folder in this layout with fewer images (a course's subset, the tests' generated one) is read too.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

__all__ = ["CIFAR10_CLASSES", "CIFAR10_FOLDER", "CIFAR10_FILES", "cifar_files_in", "read_cifar_batches",
           "write_cifar_batch"]

#: torchvision's folder name for the python version of CIFAR-10 (``CIFAR10.base_folder``)
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
#: the batches of each split
CIFAR10_FILES: dict[str, tuple[str, ...]] = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_SHAPE = (3, 32, 32)
#: what a CIFAR-10 pickle may name: numpy's array reconstruction (numpy 1 and 2 module names), and
#: the latin-1 encoding Python 3 writes bytes with in pickle protocol 2
_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain values, and refuses any other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch never does")
        return super().find_class(module, name)


def _load(path: Path) -> dict[str, Any]:
    """A CIFAR-10 batch file as a dict with str keys (the files were written by Python 2: latin-1)."""
    try:
        data = path.read_bytes()
        loaded = _ArraysOnly(io.BytesIO(data), encoding="latin1").load()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # anything a damaged pickle raises
        raise DataError(f"{path}: not a CIFAR-10 batch file ({exc})") from None
    if not isinstance(loaded, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch file (it holds a {type(loaded).__name__}, not a dict)")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def cifar_files_in(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """``({name: path}, [missing names])`` for the six batch files in ``folder``."""
    names = [name for files in CIFAR10_FILES.values() for name in files]
    found = {name: folder / name for name in names if (folder / name).is_file()}
    return found, [name for name in names if name not in found]


def read_cifar_batches(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(images, labels, classes)`` of ``split`` (``train`` or ``test``) from ``folder``: uint8
    ``(N, 3, 32, 32)``, int64 ``(N,)``, and the class names of ``batches.meta`` (CIFAR-10's when absent)."""
    images, labels = [], []
    for name in CIFAR10_FILES[split]:
        path = folder / name
        batch = _load(path)
        data, batch_labels = batch.get("data"), batch.get("labels", batch.get("fine_labels"))
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or \
                data.shape[1] != int(np.prod(_SHAPE)):
            described = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), found {described}")
        if batch_labels is None or len(batch_labels) != len(data):
            raise DataError(f"{path}: {len(data)} images but "
                            f"{'no labels' if batch_labels is None else f'{len(batch_labels)} labels'}")
        images.append(data.reshape(-1, *_SHAPE))
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    classes = _classes(folder)
    all_labels = np.concatenate(labels)
    if all_labels.size and (all_labels.min() < 0 or all_labels.max() >= len(classes)):
        raise DataError(f"{folder}: {split} labels range over {all_labels.min()}..{all_labels.max()}, "
                        f"not 0..{len(classes) - 1}")
    return np.concatenate(images), all_labels, classes


def _classes(folder: Path) -> tuple[str, ...]:
    meta = folder / "batches.meta"
    if not meta.is_file():
        return CIFAR10_CLASSES
    names = _load(meta).get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{meta}: 'label_names' must be a list of class names")
    return tuple(names)


def write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 ``images`` ``(N, 3, 32, 32)`` and their ``labels`` as one CIFAR-10 batch file (pickle
    protocol 2, as the original files)."""
    batch = {"batch_label": path.name, "data": np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1),
             "labels": [int(label) for label in labels], "filenames": [f"{i}.png" for i in range(len(images))]}
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return path
