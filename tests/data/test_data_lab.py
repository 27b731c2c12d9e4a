"""The instructor's data (a lab's own CSV or npz, named with its sha256), datasets recognised by their
content, and the dataset a grading run chooses (cnngrade/data/lab_data.py)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cnngrade.data import ChecksumMismatch, DataError, DatasetMismatch, datasets
from cnngrade.data.idx import to_idx_bytes
from cnngrade.data.lab_data import grading_dataset, lab_datasets, load_lab_dataset
from cnngrade.lab.config import LabConfig
from tests.data.conftest import make_arrays, write_dataset

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

CSV = """age,glucose,outcome,part
50,148,1,train
31,85,0,train
32,183,1,train
21,89,0,test
33,137,1,test
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec_for(lab: Path, file: str, **keys):
    table = {"toy": {"file": file, "sha256": sha(lab / file), **keys}}
    return lab_datasets(table, lab)["toy"]


def test_a_csv_dataset_is_split_by_its_column_into_float_features_and_int_labels(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "toy.csv").write_text(CSV)
    spec = spec_for(tmp_path, "data/toy.csv", label="outcome", split="part", class_names=["healthy", "ill"])
    train, test = load_lab_dataset(spec, classes=1)
    assert train.tabular and train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.tolist() == [[50, 148], [31, 85], [32, 183]] and train.labels.tolist() == [1, 0, 1]
    assert test.images.tolist() == [[21, 89], [33, 137]] and test.classes == ("healthy", "ill")
    assert repr(test) == "Split('toy-test', 2 inputs of 2 features, 2 classes)"
    x, y = next(train.batches(2))  # features without a mean and deviation reach Net as they are
    assert x.tolist() == [[50, 148], [31, 85]] and y.tolist() == [1, 0]


def test_an_npz_dataset_keeps_images_uint8_and_reads_features_as_float32(tmp_path):
    rng = np.random.default_rng(0)
    images = {"x_train": rng.integers(0, 256, (6, 3, 4, 4), dtype=np.uint8), "y_train": np.arange(6) % 3,
              "x_test": rng.integers(0, 256, (3, 3, 4, 4), dtype=np.uint8), "y_test": np.arange(3)}
    np.savez(tmp_path / "images.npz", **images)
    train, test = load_lab_dataset(spec_for(tmp_path, "images.npz"), classes=3)
    assert train.images.dtype == torch.uint8 and tuple(test.images.shape) == (3, 3, 4, 4)
    assert test.classes == ("0", "1", "2") and torch.equal(train.images, torch.from_numpy(images["x_train"]))
    np.savez(tmp_path / "table.npz", x_train=np.ones((4, 5), dtype=np.float64), y_train=np.array([0, 1, 0, 1]),
             x_test=np.zeros((2, 5), dtype=np.int32), y_test=np.array([1, 0]))
    train, test = load_lab_dataset(spec_for(tmp_path, "table.npz"), classes=1)
    assert train.images.dtype == test.images.dtype == torch.float32 and tuple(test.images.shape) == (2, 5)


def test_a_changed_file_is_refused_naming_it_and_the_sha256_to_set(tmp_path):
    (tmp_path / "toy.csv").write_text(CSV)
    spec = spec_for(tmp_path, "toy.csv", label="outcome", split="part")
    (tmp_path / "toy.csv").write_text(CSV.replace("148", "149"))
    with pytest.raises(ChecksumMismatch) as refused:
        load_lab_dataset(spec, classes=1)
    message = str(refused.value)
    assert '[datasets.toy] file = "toy.csv"' in message and f'set sha256 = "{sha(tmp_path / "toy.csv")}"' in message
    (tmp_path / "toy.csv").unlink()
    with pytest.raises(DataError, match=r"toy\.csv does not exist; put the dataset there, or fix the path"):
        load_lab_dataset(spec, classes=1)


@pytest.mark.parametrize(("arrays", "words"), [
    ({"x_train": np.ones((2, 3)), "y_train": np.zeros(2, int), "x_test": np.ones((1, 3))},
     "the npz has no y_test (it has x_train, y_train, x_test); a dataset's npz holds x_train, y_train, x_test, y_test"),
    ({"x_train": np.ones((2, 3, 4, 4)), "y_train": np.zeros(2, int), "x_test": np.ones((1, 3, 4, 4)),
      "y_test": np.zeros(1, int)}, "x_train is float64 of shape (2, 3, 4, 4); it must be uint8 images"),
    ({"x_train": np.ones((2, 3)), "y_train": np.array([0.0, 1.0]), "x_test": np.ones((1, 3)),
      "y_test": np.zeros(1, int)}, "the train labels are float64 of shape (2,); they must be integers"),
    ({"x_train": np.ones((2, 3)), "y_train": np.array([0, 2]), "x_test": np.ones((1, 3)), "y_test": np.zeros(1, int)},
     "the train labels run over 0..2, the lab's over 0..1"),
    ({"x_train": np.ones((2, 3)), "y_train": np.zeros(2, int), "x_test": np.ones((1, 4)), "y_test": np.zeros(1, int)},
     "training inputs are (3,), test inputs (4,); both splits need the same shape"),
])
def test_wrong_arrays_are_refused_saying_what_is_wrong(tmp_path, arrays, words):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as refused:
        load_lab_dataset(spec_for(tmp_path, "d.npz"), classes=1)
    assert '[datasets.toy] file = "d.npz"' in str(refused.value) and words in str(refused.value)


@pytest.mark.parametrize(("text", "keys", "words"), [
    (CSV, {}, 'the CSV has no column "label" (its columns: age, glucose, outcome, part); set label = "COLUMN"'),
    (CSV.replace("21,89,0,test", "21,89,0,valid"), {"label": "outcome", "split": "part"},
     "line 5: column \"part\" says 'valid'; it must say train or test"),
    (CSV.replace("89", ""), {"label": "outcome", "split": "part"}, "line 5 holds a value that is not a number"),
    (CSV.replace("test", "train"), {"label": "outcome", "split": "part"}, 'no row has "test" in column "part"'),
])
def test_a_wrong_csv_is_refused_with_its_line(tmp_path, text, keys, words):
    (tmp_path / "toy.csv").write_text(text)
    with pytest.raises(DataError) as refused:
        load_lab_dataset(spec_for(tmp_path, "toy.csv", **keys), classes=1)
    assert words in str(refused.value)


@pytest.mark.parametrize(("spec", "words"), [
    ({"file": "../outside.csv", "sha256": "0" * 64}, "is outside the lab's folder"),
    ({"file": "toy.txt", "sha256": "0" * 64}, "file must name the dataset's .csv or .npz"),
    ({"file": "toy.csv", "sha256": "abc"}, "sha256 must be the file's sha256, 64 lowercase hex digits"),
    ({"file": "toy.csv", "sha256": "0" * 64, "labels": "y"}, "labels is not a setting of a dataset"),
])
def test_a_wrong_datasets_table_is_refused(tmp_path, spec, words):
    with pytest.raises(DataError) as refused:
        lab_datasets({"toy": spec}, tmp_path)
    assert str(refused.value).startswith("[datasets.toy] of lab.toml: ") and words in str(refused.value)


def test_fashion_mnist_under_a_folder_named_mnist_is_recognised_as_fashion_mnist(tmp_path, monkeypatch):
    """By the sha256 of its test labels: the real Fashion-MNIST of Debian's package where it is installed;
    else generated files, whose labels' sha256 stands for Fashion-MNIST's."""
    folder = tmp_path / "root" / "MNIST" / "raw"
    if DEBIAN_FASHION.is_dir():
        shutil.copytree(DEBIAN_FASHION, folder)
    else:
        arrays = make_arrays()
        write_dataset(folder, arrays)
        fingerprint = hashlib.sha256(to_idx_bytes(arrays.test_labels)).hexdigest()
        monkeypatch.setitem(datasets.TEST_LABELS_SHA256, fingerprint, "fashion-mnist")
    with pytest.raises(DatasetMismatch) as refused:
        datasets.load_dataset("mnist", tmp_path / "root")
    assert str(refused.value) == (
        f"{folder} (--data-root) holds Fashion-MNIST, not MNIST: its test labels are Fashion-MNIST's, whatever its "
        "folder is called. Grade with --dataset fashion-mnist, or give the folder that holds MNIST.")
    assert datasets.find_dataset("fashion-mnist", folder).name == "fashion-mnist"  # the same files, named right


def test_labels_of_no_known_dataset_are_taken_as_the_dataset_asked_for(tmp_path):
    write_dataset(tmp_path / "MNIST" / "raw", make_arrays())
    assert datasets.find_dataset("mnist", tmp_path).name == "mnist"


def lab_toml(tmp_path: Path, text: str) -> LabConfig:
    (tmp_path / "lab.toml").write_text(text)
    return LabConfig.load(tmp_path / "lab.toml")


def test_a_run_chooses_the_labs_dataset_with_its_thresholds_or_refuses_saying_why(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "empty-cache"))
    (tmp_path / "toy.csv").write_text(CSV)
    lab = lab_toml(tmp_path, f"""[net]\nclasses = 1\n[accuracy]\ndataset = "toy"\n[accuracy.toy]\nmin_accuracy = 0.7
[accuracy.cifar10]\nmin_accuracy = 0.4\n[datasets.toy]\nfile = "toy.csv"\nsha256 = "{sha(tmp_path / 'toy.csv')}"
label = "outcome"\nsplit = "part"\n""")
    chosen = grading_dataset(lab)
    assert (chosen.name, chosen.thresholds, chosen.missing) == ("toy", {"min_accuracy": 0.7}, None)
    assert [len(split) for split in chosen.load()] == [3, 2]
    cifar = grading_dataset(lab, "cifar-10", tmp_path / "nowhere")
    assert cifar.name == "cifar10" and cifar.missing.startswith("download CIFAR-10's python version")
    with pytest.raises(DataError) as refused:
        grading_dataset(lab, "fashion-mnist")
    assert str(refused.value) == (
        f"--dataset fashion-mnist: {tmp_path / 'lab.toml'} has no [accuracy.fashion-mnist] table, the thresholds of "
        "the accuracy checks on fashion-mnist (min_accuracy, min_trained_accuracy): add one, or grade with a dataset "
        "it has thresholds for (toy, cifar10)")
    with pytest.raises(DataError, match=r"'kmnist' is neither the lab's dataset \(\[datasets\] of .*: toy\) nor one "
                                        r"of cnngrade's \(mnist-bundled, mnist, fashion-mnist, cifar10\)"):
        grading_dataset(lab, "kmnist")
    assert grading_dataset(lab_toml(tmp_path, "[net]\nclasses = 10\n")) is None
