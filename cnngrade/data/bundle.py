"""The MNIST bundle shipped with the package: building it reproducibly and loading it.

``mnist_bundle.npz`` (next to this module) holds the official 10,000-image MNIST test set and a fixed
stratified subset of the 60,000 training images, as uint8 arrays:

================  =========  ===============  ==========================================================
array             dtype      shape            meaning
================  =========  ===============  ==========================================================
train_images      uint8      (12000, 28, 28)  the chosen training images, in their original order
train_labels      uint8      (12000,)         their labels
train_indices     int32      (12000,)         their positions in the original 60,000-image training file
test_images       uint8      (10000, 28, 28)  the official test set
test_labels       uint8      (10000,)         its labels
================  =========  ===============  ==========================================================

``mnist_bundle.json`` records the provenance (source wheel and its sha256, sha256 of each IDX file, of each
array and of the npz, the seed, counts per class, the licence). :func:`load_bundled_mnist` checks the npz
against that sha256 before using it. ``tools/build_mnist_bundle.py`` rebuilds both files; the npz is written
with fixed zip timestamps and attributes so that the same inputs give the same bytes (with the same zlib).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ChecksumMismatch, DataError
from .split import MNIST_CLASSES, Split

__all__ = [
    "BUNDLE_JSON",
    "BUNDLE_NPZ",
    "DEFAULT_PER_CLASS",
    "DEFAULT_SEED",
    "MNIST_LICENCE",
    "build_bundle",
    "load_bundled_mnist",
    "read_bundle_info",
    "select_stratified",
    "write_npz",
]

BUNDLE_NPZ: Path = Path(__file__).with_name("mnist_bundle.npz")
BUNDLE_JSON: Path = Path(__file__).with_name("mnist_bundle.json")
MNIST_LICENCE = "MNIST: Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0"
DEFAULT_SEED = 0
DEFAULT_PER_CLASS = 1200
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
_ARRAYS = ("train_images", "train_labels", "train_indices", "test_images", "test_labels")


def select_stratified(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` samples of every class, chosen by ``seed``, in ascending order.

    Each index ``i`` gets the key ``blake2b(f"{seed}:{i}")``; every class keeps its ``per_class`` smallest
    keys. Unlike a numpy random generator, this choice cannot change with the numpy version.
    """
    labels = np.asarray(labels)
    keys = np.array(
        [
            int.from_bytes(hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest(), "big")
            for i in range(labels.shape[0])
        ],
        dtype=np.uint64,
    )
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if members.size < per_class:
            raise ValueError(f"class {cls} has only {members.size} samples, {per_class} asked for")
        chosen.append(members[np.argsort(keys[members], kind="stable")[:per_class]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def write_npz(path: str | Path, arrays: Mapping[str, np.ndarray], compresslevel: int = 9) -> str:
    """Write ``arrays`` as a deflate-compressed ``.npz`` that ``np.load`` reads; return its sha256.

    Unlike ``np.savez_compressed`` (which stamps every entry with the current time), entries carry a fixed
    date, fixed permissions and a fixed creating system, in the order given, so equal arrays give equal bytes.
    """
    path = Path(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.create_system = 3  # unix, whatever the platform
            info.external_attr = 0o644 << 16
            archive.writestr(
                info, npy.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=compresslevel
            )
    data = buffer.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _array_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def build_bundle(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    out_dir: str | Path,
    *,
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = DEFAULT_SEED,
    provenance: Mapping[str, Any] | None = None,
    stem: str = "mnist_bundle",
) -> dict[str, Any]:
    """Write ``<stem>.npz`` and ``<stem>.json`` into ``out_dir`` from full MNIST arrays; return the json data.

    ``provenance`` (source wheel, IDX checksums ...) is copied into the json as given, first.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    indices = select_stratified(train_labels, per_class, seed)
    arrays = {
        "train_images": train_images[indices],
        "train_labels": train_labels[indices],
        "train_indices": indices.astype(np.int32),
        "test_images": test_images,
        "test_labels": test_labels,
    }
    npz_path = out_dir / f"{stem}.npz"
    npz_sha = write_npz(npz_path, arrays)

    def per_class_counts(labels: np.ndarray) -> dict[str, int]:
        return {str(c): int(n) for c, n in enumerate(np.bincount(labels, minlength=10))}

    info: dict[str, Any] = dict(provenance or {})
    info.update(
        {
            "npz": {"file": npz_path.name, "sha256": npz_sha, "bytes": npz_path.stat().st_size},
            "arrays": {
                name: {"dtype": a.dtype.name, "shape": list(a.shape), "sha256": _array_sha256(a)}
                for name, a in arrays.items()
            },
            "train": {
                "size": int(indices.size),
                "from": int(train_labels.shape[0]),
                "per_class": per_class_counts(arrays["train_labels"]),
                "seed": seed,
                "selection": (
                    f"per class, the {per_class} training indices i with the smallest "
                    f"blake2b-64('{{seed}}:{{i}}'), in ascending order"
                ),
            },
            "test": {"size": int(test_labels.shape[0]), "per_class": per_class_counts(test_labels)},
            "licence": MNIST_LICENCE,
        }
    )
    (out_dir / f"{stem}.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def read_bundle_info(json_path: str | Path = BUNDLE_JSON) -> dict[str, Any]:
    """The provenance record of the bundle (see module docstring)."""
    try:
        return json.loads(Path(json_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read the bundle's provenance file {json_path}: {exc}; "
            "reinstall cnngrade or rebuild it with tools/build_mnist_bundle.py"
        ) from None


def load_bundled_mnist(
    npz_path: str | Path = BUNDLE_NPZ, json_path: str | Path | None = None, *, verify: bool = True
) -> tuple[Split, Split]:
    """The bundled MNIST as ``(train, test)`` splits (12,000 stratified training images, the 10,000 test).

    With ``verify`` (the default) the npz's sha256 must equal the one in its json record (a few ms);
    otherwise :class:`ChecksumMismatch` says so and how to repair it.
    """
    npz_path = Path(npz_path)
    json_path = Path(json_path) if json_path is not None else npz_path.with_suffix(".json")
    try:
        data = npz_path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"the bundled MNIST file {npz_path} cannot be read ({exc.strerror or exc}); "
            "reinstall cnngrade or rebuild it with tools/build_mnist_bundle.py"
        ) from None
    if verify:
        expected = read_bundle_info(json_path).get("npz", {}).get("sha256")
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ChecksumMismatch(
                f"the bundled MNIST file {npz_path} is damaged or was replaced: its sha256 is {actual}, "
                f"{json_path.name} records {expected}. Reinstall cnngrade, or rebuild both files with "
                "tools/build_mnist_bundle.py."
            )
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        missing = [name for name in _ARRAYS if name not in npz.files]
        if missing:
            raise DataError(f"{npz_path}: not an MNIST bundle, missing arrays {', '.join(missing)}")
        arrays = {name: npz[name] for name in _ARRAYS}
    train = Split(
        "mnist-bundled-train",
        torch.from_numpy(arrays["train_images"]),
        torch.from_numpy(arrays["train_labels"]),
        MNIST_CLASSES,
        source=str(npz_path),
    )
    test = Split(
        "mnist-bundled-test",
        torch.from_numpy(arrays["test_images"]),
        torch.from_numpy(arrays["test_labels"]),
        MNIST_CLASSES,
        source=str(npz_path),
    )
    return train, test
