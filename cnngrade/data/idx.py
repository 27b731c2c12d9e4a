"""Reading and writing IDX files (the format of MNIST and Fashion-MNIST), raw or gzip-compressed.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (``TT`` the element type, ``DD`` the number of
dimensions), ``DD`` big-endian uint32 sizes, then the elements in C order, big-endian. Readers here check the
magic, the type, the number of dimensions and that the data is exactly as long as the header says, and raise
:class:`~cnngrade.data.errors.IdxFormatError` with the file name and what was wrong otherwise. Whether a file
is gzip-compressed is told by its first two bytes, not by its name.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .errors import IdxFormatError

__all__ = [
    "IDX_DTYPES",
    "parse_idx",
    "read_idx",
    "read_idx_bytes",
    "read_idx_header",
    "read_images",
    "read_labels",
    "to_idx_bytes",
    "write_idx",
]

#: IDX type code -> numpy dtype (big-endian, as stored in the file).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _parse_header(head: bytes, source: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Decode an IDX header; return (file dtype, shape, header length in bytes)."""
    if len(head) < 4:
        raise IdxFormatError(f"{source}: not an IDX file: only {len(head)} bytes, too short for a header")
    if head[0] != 0 or head[1] != 0 or head[2] not in IDX_DTYPES:
        raise IdxFormatError(
            f"{source}: not an IDX file: bad magic number {head[:4].hex(' ')} "
            f"(expected 00 00 TT DD with TT one of {', '.join(f'{c:02x}' for c in IDX_DTYPES)})"
        )
    ndim = head[3]
    if ndim == 0:
        raise IdxFormatError(f"{source}: not an IDX file: its magic number declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise IdxFormatError(
            f"{source}: truncated IDX header: {ndim} dimensions need {header_len} header bytes, "
            f"the file has {len(head)}"
        )
    shape = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return IDX_DTYPES[head[2]], shape, header_len


def _decompress(data: bytes, source: str) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxFormatError(f"{source}: damaged gzip data ({exc})") from None


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file (gzip-compressed or not) into a native-byte-order numpy array.

    ``source`` names the data in error messages. Raises :class:`IdxFormatError` on a bad magic number, a
    truncated header or body, or bytes left over after the data the header declares.
    """
    if data[:2] == _GZIP_MAGIC:
        data = _decompress(data, source)
    dtype, shape, offset = _parse_header(data[:64], source)
    count = int(np.prod(shape, dtype=np.int64))
    expected = offset + count * dtype.itemsize
    if len(data) < expected:
        raise IdxFormatError(
            f"{source}: truncated IDX file: its header declares shape {shape} of {dtype.name}, "
            f"{expected} bytes in all, but it has only {len(data)} bytes"
        )
    if len(data) > expected:
        raise IdxFormatError(
            f"{source}: malformed IDX file: {len(data) - expected} bytes after the data that its header "
            f"declares (shape {shape})"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)  # writable, native byte order


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into a numpy array; see :func:`parse_idx`."""
    return parse_idx(read_idx_bytes(path), str(path))


def read_idx_bytes(path: str | Path) -> bytes:
    """The bytes of an IDX file, uncompressed where it is gzip-compressed (told by its first bytes)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdxFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _decompress(data, str(path)) if data[:2] == _GZIP_MAGIC else data


def read_idx_header(path: str | Path) -> tuple[np.dtype, tuple[int, ...]]:
    """Return the (dtype, shape) an IDX file declares, reading only its first bytes (cheap, also for .gz)."""
    path = Path(path)
    try:
        with path.open("rb") as raw:
            if raw.read(2) == _GZIP_MAGIC:
                raw.seek(0)
                try:
                    with gzip.open(raw) as unzipped:
                        head = unzipped.read(4 + 4 * 255)
                except (OSError, EOFError, zlib.error) as exc:
                    raise IdxFormatError(f"{path}: damaged gzip data ({exc})") from None
            else:
                raw.seek(0)
                head = raw.read(4 + 4 * 255)
    except OSError as exc:
        raise IdxFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    dtype, shape, _ = _parse_header(head, str(path))
    return dtype.newbyteorder("="), shape


def read_images(path: str | Path, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an IDX image file: uint8, shape ``(N, H, W)`` with ``(H, W) == image_size`` unless it is None."""
    array = read_idx(path)
    if array.dtype != np.uint8 or array.ndim != 3:
        raise IdxFormatError(
            f"{path}: expected images (uint8, 3 dimensions N x H x W), found {array.dtype.name} "
            f"of shape {array.shape}"
        )
    if image_size is not None and tuple(array.shape[1:]) != tuple(image_size):
        raise IdxFormatError(
            f"{path}: expected {image_size[0]}x{image_size[1]} images, "
            f"found {array.shape[1]}x{array.shape[2]}"
        )
    return array


def read_labels(path: str | Path, num_classes: int = 10) -> np.ndarray:
    """Read an IDX label file: uint8, shape ``(N,)``, every value below ``num_classes``."""
    array = read_idx(path)
    if array.dtype != np.uint8 or array.ndim != 1:
        raise IdxFormatError(
            f"{path}: expected labels (uint8, 1 dimension), found {array.dtype.name} of shape {array.shape}"
        )
    if array.size and int(array.max()) >= num_classes:
        raise IdxFormatError(f"{path}: label {int(array.max())} out of range 0..{num_classes - 1}")
    return array


def to_idx_bytes(array: np.ndarray) -> bytes:
    """The bytes of ``array`` as an (uncompressed) IDX file."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, not {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed (reproducibly: mtime 0) when ``path`` ends in .gz."""
    path = Path(path)
    data = to_idx_bytes(array)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
