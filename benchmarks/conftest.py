"""Shared fixtures of the benchmarks: the bundled data and the reference Net."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.data import load_bundled_mnist
from cnngrade.submission.inprocess import InProcessSubmission

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def bundled():
    return load_bundled_mnist()


@pytest.fixture
def reference_net():
    handle = InProcessSubmission(ROOT / "reference")
    handle.build_net()
    return handle.net.eval()
