"""The instructor's data: a dataset a lab ships in its own folder, and the dataset a grading run uses.

A lab declares its own datasets in ``[datasets.NAME]`` of lab.toml and names one in ``[accuracy] dataset``::

    [datasets.pima]
    file = "data/pima.csv"        # relative to the lab's folder, inside it: a .csv or an .npz
    sha256 = "9f0c..."            # the file's sha256: a file that differs is refused
    label = "diabetes"            # CSV: the column of labels (default "label")
    split = "split"               # CSV: the column saying "train" or "test" for each row (default "split")
    class_names = ["negative", "positive"]   # optional: the labels' names, in messages

- **npz**: the arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``. ``x`` arrays of uint8 with 3 or 4
  dimensions are images ``(N, H, W)`` / ``(N, C, H, W)`` and stay uint8; 2-dimensional numeric ones are
  tabular features ``(N, F)``, read as float32. ``y`` arrays hold integer labels ``(N,)``.
- **CSV**: a header row, then one row per sample: every column but the label and split columns is a
  feature (float32, in the file's order); labels are integers; the split column says ``train`` or ``test``.

Labels run over 0 .. K-1, K the lab's ``[net] classes`` (0 and 1 where ``classes = 1``, a binary lab).
The file is read once, its sha256 checked against lab.toml's before anything is parsed. Every problem
raises :class:`~cnngrade.data.errors.DataError` naming the file and the fix: an instructor's mistake,
refused before any student is graded.

:func:`grading_dataset` picks the dataset of a grading run: ``--dataset`` or ``[accuracy] dataset``, the
lab's own or one of cnngrade's (:mod:`cnngrade.data.datasets`), with its ``[accuracy.NAME]`` thresholds;
a dataset of cnngrade's that is not on this machine is :attr:`GradingDataset.missing` (how to provide
it), not an error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .bundle import load_bundled_mnist
from .datasets import DATASETS, TITLES, canonical_name, find_dataset, load_dataset, missing_hint
from .errors import ChecksumMismatch, DataError, DatasetNotFound
from .split import Split

if TYPE_CHECKING:
    from cnngrade.lab.config import LabConfig

__all__ = ["ARRAYS", "GradingDataset", "LabDataset", "grading_dataset", "lab_datasets", "load_lab_dataset"]

#: the arrays of an npz dataset
ARRAYS = ("x_train", "y_train", "x_test", "y_test")
#: the keys of a ``[datasets.NAME]`` table
KEYS = ("file", "sha256", "label", "split", "class_names")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LabDataset:
    """A dataset the lab ships (``[datasets.NAME]`` of lab.toml)."""

    name: str
    #: the file, absolute, inside the lab's folder
    file: Path
    #: as lab.toml gives it, relative to the lab's folder
    relative: str
    sha256: str
    label: str = "label"
    split: str = "split"
    class_names: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """How messages name it: ``[datasets.pima] file = "data/pima.csv"``."""
        return f'[datasets.{self.name}] file = "{self.relative}"'


def lab_datasets(table: Any, lab_dir: Path) -> dict[str, LabDataset]:
    """The lab's own datasets, from its ``[datasets]`` table (``{}`` where it has none); DataError for
    a table that is not as the module's docstring says."""
    if table is None:
        return {}
    if not isinstance(table, Mapping) or not all(isinstance(v, Mapping) for v in table.values()):
        raise DataError("[datasets] of lab.toml holds one table per dataset: [datasets.NAME] with file and sha256")
    return {name: _lab_dataset(str(name), spec, lab_dir) for name, spec in table.items()}


def _lab_dataset(name: str, spec: Mapping[str, Any], lab_dir: Path) -> LabDataset:
    where = f"[datasets.{name}] of lab.toml"
    if name in DATASETS:
        raise DataError(f"{where}: {name} is one of cnngrade's datasets; give the lab's own another name")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise DataError(f"{where}: {', '.join(unknown)} is not a setting of a dataset (settings: {', '.join(KEYS)})")
    file, sha = spec.get("file"), spec.get("sha256")
    if not isinstance(file, str) or not file.endswith((".csv", ".npz")):
        raise DataError(f'{where}: file must name the dataset\'s .csv or .npz, relative to the lab\'s folder '
                        f'(file = "data/{name}.csv")')
    path = (lab_dir / file).resolve()
    if not path.is_relative_to(lab_dir.resolve()):
        raise DataError(f'{where}: file = "{file}" is outside the lab\'s folder {lab_dir}; put the data in the lab')
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise DataError(f"{where}: sha256 must be the file's sha256, 64 lowercase hex digits (sha256sum {file} "
                        "prints it)")
    names = spec.get("class_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f"{where}: class_names must be a list of strings, one per label")
    columns = {key: spec.get(key, key) for key in ("label", "split")}
    if not all(isinstance(column, str) for column in columns.values()):
        raise DataError(f"{where}: label and split name columns of the CSV (strings)")
    return LabDataset(name, path, file, sha, columns["label"], columns["split"], tuple(names))


def _verified_bytes(spec: LabDataset) -> bytes:
    """The file's bytes, once its sha256 is lab.toml's."""
    try:
        data = spec.file.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{spec.where}: {spec.file} does not exist; put the dataset there, or fix the path "
                        "(relative to the lab's folder)") from None
    except OSError as exc:
        raise DataError(f"{spec.where}: {spec.file} cannot be read ({exc.strerror or exc})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise ChecksumMismatch(
            f"{spec.where}: the file's sha256 is {actual}, lab.toml says {spec.sha256}. If you changed the data on "
            f'purpose, set sha256 = "{actual}" in [datasets.{spec.name}]; otherwise restore the file.'
        )
    return data


def load_lab_dataset(spec: LabDataset, classes: int) -> tuple[Split, Split]:
    """``(train, test)`` splits of the lab's dataset ``spec``, for a lab of ``classes`` classes (1: binary)."""
    data = _verified_bytes(spec)
    count = max(classes, 2)
    if spec.class_names and len(spec.class_names) != count:
        raise DataError(f"{spec.where}: class_names has {len(spec.class_names)} names, the lab has {count} labels "
                        f"([net] classes = {classes})")
    parts = _npz_arrays(spec, data) if spec.relative.endswith(".npz") else _csv_arrays(spec, data)
    names = spec.class_names or tuple(str(label) for label in range(count))
    splits = []
    for part, (x, y) in zip(("train", "test"), parts, strict=True):
        _check_labels(spec, part, y, count)
        normalisation = {"mean": (), "std": ()} if x.ndim == 2 else {}  # features as they are; images as MNIST's
        splits.append(Split(f"{spec.name}-{part}", torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)), names,
                            source=str(spec.file), **normalisation))
    train, test = splits
    if tuple(train.images.shape[1:]) != tuple(test.images.shape[1:]):
        raise DataError(f"{spec.where}: training inputs are {tuple(train.images.shape[1:])}, test inputs "
                        f"{tuple(test.images.shape[1:])}; both splits need the same shape")
    return train, test


def _npz_arrays(spec: LabDataset, data: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            missing = [name for name in ARRAYS if name not in npz.files]
            if missing:
                raise DataError(f"{spec.where}: the npz has no {', '.join(missing)} (it has "
                                f"{', '.join(npz.files) or 'no arrays'}); a dataset's npz holds {', '.join(ARRAYS)}")
            arrays = {name: npz[name] for name in ARRAYS}
    except (ValueError, OSError, EOFError) as exc:  # not an npz, or an array of objects
        raise DataError(f"{spec.where}: not a readable npz of arrays ({exc}); write it with numpy.savez") from None
    return [(_inputs(spec, f"x_{part}", arrays[f"x_{part}"]), arrays[f"y_{part}"]) for part in ("train", "test")]


def _inputs(spec: LabDataset, name: str, x: np.ndarray) -> np.ndarray:
    """``x`` as a Split holds it: uint8 images, or float32 features."""
    if x.dtype == np.uint8 and x.ndim in (3, 4):
        return x
    if x.ndim == 2 and (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        features = x.astype(np.float32)
        if not np.isfinite(features).all():
            raise DataError(f"{spec.where}: {name} holds NaN or infinite values; fill or drop those samples")
        return features
    raise DataError(f"{spec.where}: {name} is {x.dtype} of shape {x.shape}; it must be uint8 images (N, H, W) or "
                    "(N, C, H, W), or numeric features (N, F)")


def _check_labels(spec: LabDataset, part: str, y: np.ndarray, count: int) -> None:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{spec.where}: the {part} labels are {y.dtype} of shape {y.shape}; they must be integers, "
                        "one per sample")
    if y.size and (y.min() < 0 or y.max() >= count):
        raise DataError(f"{spec.where}: the {part} labels run over {y.min()}..{y.max()}, the lab's over "
                        f"0..{count - 1} ([net] classes)")


def _csv_arrays(spec: LabDataset, data: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{spec.where}: not a UTF-8 CSV file ({exc})") from None
    if not rows:
        raise DataError(f"{spec.where}: the CSV is empty; it needs a header row, then one row per sample")
    header = rows[0]
    for key, column in (("label", spec.label), ("split", spec.split)):
        if column not in header:
            raise DataError(f'{spec.where}: the CSV has no column "{column}" (its columns: {", ".join(header)}); '
                            f'set {key} = "COLUMN" in [datasets.{spec.name}]')
    label_at, split_at = header.index(spec.label), header.index(spec.split)
    feature_at = [i for i in range(len(header)) if i not in (label_at, split_at)]
    features: dict[str, list[list[float]]] = {"train": [], "test": []}
    labels: dict[str, list[int]] = {"train": [], "test": []}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(f"{spec.where}: line {line} has {len(row)} values, the header {len(header)}")
        part = row[split_at].strip()
        if part not in features:
            raise DataError(f'{spec.where}: line {line}: column "{spec.split}" says {part!r}; it must say train or '
                            "test")
        try:
            labels[part].append(int(row[label_at]))
            features[part].append([float(row[i]) for i in feature_at])
        except ValueError:
            raise DataError(f"{spec.where}: line {line} holds a value that is not a number (labels are integers, "
                            "features numbers; fill or drop the row)") from None
    arrays = []
    for part in ("train", "test"):
        if not labels[part]:
            raise DataError(f'{spec.where}: no row has "{part}" in column "{spec.split}"; each split needs samples')
        x = _inputs(spec, f"the {part} features", np.array(features[part], dtype=np.float64))
        arrays.append((x, np.array(labels[part], dtype=np.int64)))
    return arrays


@dataclass(frozen=True)
class GradingDataset:
    """The dataset of a grading run's accuracy checks, and their thresholds."""

    name: str
    #: ``[accuracy.NAME]`` of lab.toml: ``min_accuracy``, ``min_trained_accuracy``
    thresholds: Mapping[str, Any]
    #: the lab's own dataset (None: one of cnngrade's)
    own: LabDataset | None
    #: the ``[net] classes`` of the lab
    classes: int
    #: cnngrade's dataset's folder root and where it comes from
    root: Path | None = None
    origin: str = "--data-root"
    #: how to provide the dataset, which is not on this machine (None: it is here)
    missing: str | None = None

    @property
    def title(self) -> str:
        """The dataset's name in messages."""
        return TITLES.get(self.name, self.name)

    def load(self) -> tuple[Split, Split]:
        """``(train, test)``; DataError where the data is missing or damaged."""
        if self.own is not None:
            return load_lab_dataset(self.own, self.classes)
        if self.name == "mnist-bundled":
            return load_bundled_mnist()
        return load_dataset(self.name, self.root, origin=self.origin)


def grading_dataset(lab: LabConfig, name: str | None = None, data_root: str | Path | None = None) -> \
        GradingDataset | None:
    """The dataset of a grading run: ``name`` (``--dataset``), else ``[accuracy] dataset``; None where the
    lab has none. ``data_root`` (``--data-root``), else ``[accuracy] data_root`` (relative to lab.toml),
    is where cnngrade's datasets are looked for first.

    DataError (a usage error: nothing is graded) for a dataset that is neither the lab's nor cnngrade's,
    one without ``[accuracy.NAME]`` thresholds, a lab dataset declared wrong, or a folder that holds
    another dataset than the one named. A dataset of cnngrade's that is not on this machine is
    returned with :attr:`GradingDataset.missing` saying how to provide it."""
    chosen = name or lab.get("accuracy.dataset", None)
    if chosen is None:
        return None
    own = lab_datasets(lab.get("datasets", None), lab.path.parent)
    if chosen not in own:
        try:
            chosen = canonical_name(chosen)
        except DataError:
            raise DataError(f"{_asked(chosen, name)}: '{chosen}' is neither the lab's dataset ([datasets] of "
                            f"{lab.path}: {', '.join(own) or 'none'}) nor one of cnngrade's "
                            f"({', '.join(DATASETS)})") from None
    thresholds = lab.get(f"accuracy.{chosen}", None)
    if not isinstance(thresholds, Mapping):
        tables = [key for key, value in lab.get("accuracy", {}).items() if isinstance(value, Mapping)]
        raise DataError(f"{_asked(chosen, name)}: {lab.path} has no [accuracy.{chosen}] table, the thresholds of "
                        f"the accuracy checks on {chosen} (min_accuracy, min_trained_accuracy): add one, or grade "
                        f"with a dataset it has thresholds for ({', '.join(tables) or 'none'})")
    classes = int(lab.get("net.classes", 10))
    if chosen in own:
        return GradingDataset(chosen, thresholds, own[chosen], classes)
    root, origin = data_root, "--data-root"
    if root is None and lab.get("accuracy.data_root", None) is not None:
        root = lab.path.parent / Path(lab.setting("accuracy.data_root")).expanduser()  # relative to lab.toml
        origin = f"[accuracy] data_root of {lab.path}"
    root = Path(root) if root is not None else None
    missing = None
    if chosen != "mnist-bundled":
        try:
            find_dataset(chosen, root, origin=origin)
        except DatasetNotFound:
            missing = missing_hint(chosen)
    return GradingDataset(chosen, thresholds, None, classes, root, origin, missing)


def _asked(chosen: str, option: str | None) -> str:
    """Where the dataset's name comes from, in a message."""
    return f"--dataset {option}" if option else f'[accuracy] dataset = "{chosen}"'
