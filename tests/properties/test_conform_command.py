"""``cnngrade conform FILE::NAME --op OP [declarations]``: as a user types it, from their own folder, the
file loaded definitions only; exit status 0 when every property in scope holds, 1 when one fails, 2 for a
usage error that says what to change."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnngrade.commands import main
from cnngrade.commands.conform import build_parser, declaration
from cnngrade.properties import Supports
from tests.paths import ROOT

EXAMPLES = ROOT / "docs" / "examples"
NHWC = ["--array", "numpy", "--layouts", "NHWC", "--no-tuple-args", "--no-padding", "--no-torch-defaults"]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's folder holding ``layers/my_pool.py`` and ``layers/first_try.py``, the working directory."""
    (tmp_path / "layers").mkdir()
    for name in ("my_pool.py", "first_try.py"):
        shutil.copy2(EXAMPLES / name, tmp_path / "layers" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CNNGRADE_HYPOTHESIS_PROFILE", raising=False)
    return tmp_path


def test_a_correct_layer_exits_0_with_its_table_as_typed_in_another_folder(work):
    cnngrade = Path(sys.executable).parent / "cnngrade"
    done = subprocess.run([str(cnngrade), "conform", "layers/my_pool.py::max_pool", "--op", "max_pool2d",
                           "--backward", "max_pool_backward", *NHWC, "--max-examples", "5"],
                          cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("max_pool as max_pool2d, Supports(array='numpy', layouts=('NHWC',), tuple_args=False, "
                        "padding=False, torch_defaults=False)")
    assert "  gradient_ties       pass" in lines
    assert lines[-1] == "all 13 properties in scope hold, 2 out of scope."
    assert sorted(p.name for p in work.iterdir()) == ["layers"]  # nothing written beside it


def test_a_buggy_layer_exits_1_with_every_failure(work, capsys):
    assert main(["conform", "layers/first_try.py::max_pool", "--op", "max_pool2d", *NHWC, "--max-examples", "10"]) == 1
    out = capsys.readouterr().out
    assert "(64, 14, 14, 8)" not in out  # the script's own try did not run: definitions only
    assert "  shape               FAIL [1]" in out and "  no_mutation         pass" in out
    assert "the output dtype should be float32 (the input's) but was float64" in out
    assert "H_out = floor((H + 2p - k)/s) + 1" in out


def _layer_class(work: Path) -> str:
    (work / "layers" / "pool_class.py").write_text(
        "import torch.nn.functional as F\n\n\nclass Pool:\n    def __init__(self, kernel_size):\n"
        "        self.kernel_size = kernel_size\n\n    def forward(self, x):\n"
        "        return F.max_pool2d(x, self.kernel_size)\n")
    return "layers/pool_class.py::Pool"


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["layers/my_pool.py::nope", "--op", "max_pool2d"], "my_pool.py does not define `nope`; it defines"),
        (["layers/my_pool.py", "--op", "max_pool2d"], "expected FILE::NAME"),
        (["layers/missing.py::f", "--op", "max_pool2d"], "missing.py"),
        (["layers/my_pool.py::max_pool", "--op", "max_pool2d", "--layouts", "NCWH"], "expected some of NCHW"),
        (["layers/my_pool.py::max_pool", "--op", "max_pool2d", "--names", "kernel_size"], "expected TORCH=OWN"),
        (["layers/my_pool.py::max_pool", "--op", "unfold", "--layouts", "NHWC"], "channels-first inputs only"),
        (["layers/my_pool.py::max_pool", "--op", "max_pool2d", "--only", "shapes"], "has no property 'shapes'"),
        ([_layer_class, "--op", "max_pool2d"], "is a class with a forward method: declare calling='layer'"),
    ],
    ids=["missing name", "no name", "missing file", "layout", "names", "unfold NHWC", "property", "plain class"],
)
def test_a_usage_error_exits_2_saying_what_to_change(work, capsys, arguments, words):
    arguments = [a(work) if callable(a) else a for a in arguments]
    assert main(["conform", *arguments]) == 2
    assert words in capsys.readouterr().err


def test_every_declaration_is_an_option():
    flags = ["--array", "numpy", "--calling", "layer", "--layouts", "CHW,HW", "--weight-layout", "HWIO",
             "--names", "kernel_size=size", "--no-tuple-args", "--square-kernels", "--no-padding", "--stride", "1",
             "--no-torch-defaults", "--dtypes", "float64", "--output-dtype", "float64", "--dtype-in-values",
             "--errors", "none", *(f"--{axis.replace('_', '-')}" for axis in Supports.axes())]
    args = build_parser().parse_args(["f.py::g", "--op", "max_pool2d", *flags])
    declared = declaration(args)
    default = Supports()
    assert all(getattr(declared, f.name) != getattr(default, f.name) for f in dataclasses.fields(Supports))
    assert declaration(build_parser().parse_args(["f.py::g", "--op", "conv2d"])) == default
