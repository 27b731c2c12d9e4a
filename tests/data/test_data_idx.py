"""IDX reading and writing: round trips, and clear errors for malformed files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from cnngrade.data import DataError, IdxFormatError
from cnngrade.data.idx import read_idx, read_idx_header, read_images, read_labels, to_idx_bytes, write_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28),
        np.array([3, -7, 2**30], dtype=np.int32),
        np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        np.array([[1.5, -2.25]], dtype=np.float64),
        np.array([-1, 5], dtype=np.int16),
        np.array([-3, 4], dtype=np.int8),
    ],
    ids=["uint8-3d", "int32-1d", "float32-2d", "float64-2d", "int16", "int8"],
)
def test_round_trip(tmp_path: Path, array: np.ndarray, suffix: str) -> None:
    path = write_idx(tmp_path / f"x-idx{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable and back.dtype.isnative
    assert read_idx_header(path) == (array.dtype, array.shape)


def test_layout_is_big_endian_with_magic(tmp_path: Path) -> None:
    data = to_idx_bytes(np.array([[1, 2, 3]], dtype=np.int32))
    assert data[:4] == bytes([0, 0, 0x0C, 2])
    assert data[4:12] == (1).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert data[12:16] == (1).to_bytes(4, "big")


def test_gzip_told_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels-without-gz-suffix"
    path.write_bytes(gzip.compress(to_idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc", "bad magic number 01 02 08 01"),
        (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "bad magic number"),  # unknown type
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x03" + (10).to_bytes(4, "big"), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "truncated IDX file"),
        (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"abc", "1 bytes after the data"),
        (b"PK\x03\x04 this is a zip, not IDX", "bad magic number 50 4b 03 04"),
    ],
    ids=["bad-magic", "unknown-type", "no-dims", "tiny", "short-header", "truncated", "trailing", "zip"],
)
def test_malformed_files_raise_clear_errors(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(IdxFormatError) as info:
        read_idx(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)
    assert isinstance(info.value, DataError) and isinstance(info.value, ValueError)


def test_truncated_real_sized_image_file(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((100, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(
        IdxFormatError, match=r"truncated IDX file: its header declares shape \(100, 28, 28\)"
    ):
        read_images(path)


def test_damaged_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(to_idx_bytes(np.arange(1000, dtype=np.int32)))[:40])
    with pytest.raises(IdxFormatError, match="damaged gzip data"):
        read_idx(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IdxFormatError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_read_images_checks_kind_and_size(tmp_path: Path) -> None:
    labels = write_idx(tmp_path / "l", np.zeros(5, np.uint8))
    small = write_idx(tmp_path / "s", np.zeros((5, 8, 8), np.uint8))
    floats = write_idx(tmp_path / "f", np.zeros((5, 28, 28), np.float32))
    with pytest.raises(IdxFormatError, match="expected images"):
        read_images(labels)
    with pytest.raises(IdxFormatError, match="expected images"):
        read_images(floats)
    with pytest.raises(IdxFormatError, match="expected 28x28 images, found 8x8"):
        read_images(small, image_size=(28, 28))
    assert read_images(small).shape == (5, 8, 8)


def test_read_labels_checks_range(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "l", np.array([0, 9, 10], np.uint8))
    with pytest.raises(IdxFormatError, match="label 10 out of range 0..9"):
        read_labels(path)
    assert read_labels(path, num_classes=11).tolist() == [0, 9, 10]
    with pytest.raises(IdxFormatError, match="expected labels"):
        read_labels(write_idx(tmp_path / "i", np.zeros((2, 2), np.uint8)))


def test_write_rejects_unsupported_dtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot store dtype"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint32))
