"""The corpus of tests/properties/conformance/: every correct layer, declared honestly and nothing more, holds
every property in scope; every bug put into one fails on the row of its bug.

A bug is snippets of one file replaced (each must occur exactly once, in the function named, or in the
file), and names the rows that must fail (the first is the first that fails in catalogue order) and rows
that must hold beside them, so that the failure is seen on its own row, not hidden behind another. Runs
under the derandomized ``ci`` profile with few examples: the corpus's bugs are found in the first ones.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import pytest
import torch

from cnngrade.properties import OPERATIONS, Supports, conform, conformance_tests, property_names
from cnngrade.properties.table import FAIL, OUT_OF_SCOPE, PASS
from tests.mutation import load_module, mutate
from tests.paths import TESTS

CORPUS = TESTS / "properties" / "conformance"
CI = "ci"
EXAMPLES = 10
_modules = itertools.count()


@dataclass(frozen=True)
class Layer:
    """A layer of the corpus: ``name`` in ``file``, checked as ``op`` under ``supports`` (with the
    backward ``backward`` of the same file), and the rows its declaration leaves out of scope."""

    file: str
    name: str
    op: str
    supports: Supports
    backward: str | None = None
    out_of_scope: frozenset[str] = frozenset({"return_indices", "special_values"})


NUMPY_NHWC = Supports(array="numpy", layouts="NHWC", tuple_args=False, padding=False, torch_defaults=False)
NO_GRADIENT = frozenset({"gradient", "gradient_ties", "return_indices", "special_values"})

LAYERS = {
    "numpy_nchw_max": Layer("numpy_nchw.py", "max_pool2d", "max_pool2d",
                            Supports(array="numpy", layouts="NCHW", tuple_args=False), out_of_scope=NO_GRADIENT),
    "numpy_nchw_avg": Layer("numpy_nchw.py", "avg_pool2d", "avg_pool2d",
                            Supports(array="numpy", layouts="NCHW", tuple_args=False),
                            out_of_scope=frozenset({"gradient", "special_values"})),
    "numpy_nhwc_max": Layer("numpy_nhwc.py", "max_pool", "max_pool2d", NUMPY_NHWC, backward="max_pool_backward"),
    "numpy_nhwc_max_split": Layer("numpy_nhwc.py", "max_pool", "max_pool2d", NUMPY_NHWC,
                                  backward="max_pool_backward_split"),
    "numpy_nhwc_conv": Layer("numpy_nhwc.py", "conv2d", "conv2d",
                             Supports(array="numpy", layouts="NHWC", weight_layout="HWIO", names={"bias": "b"},
                                      tuple_args=False, torch_defaults=False),
                             out_of_scope=frozenset({"gradient"})),
    "single_image_max": Layer("single_image.py", "max_pool_image", "max_pool2d",
                              Supports(layouts="CHW", names={"x": "image"}, tuple_args=False, torch_defaults=False,
                                       errors="none"),
                              out_of_scope=frozenset({"errors", "return_indices", "special_values"})),
    "single_plane_avg": Layer("single_image.py", "average_plane", "avg_pool2d",
                              Supports(array="numpy", layouts="HW", names={"kernel_size": "size"}, tuple_args=False,
                                       padding=False, stride="kernel"),
                              out_of_scope=frozenset({"gradient", "errors", "special_values"})),
    "cs231n_max": Layer("cs231n.py", "max_pool_forward_naive", "max_pool2d",
                        Supports(calling="cs231n", array="numpy", layouts="NCHW", tuple_args=False, padding=False),
                        backward="max_pool_backward_naive"),
    "cs231n_conv": Layer("cs231n.py", "conv_forward_naive", "conv2d",
                         Supports(calling="cs231n", array="numpy", layouts="NCHW", tuple_args=False),
                         backward="conv_backward_naive", out_of_scope=frozenset()),
    "class_max": Layer("classes.py", "MaxPool", "max_pool2d",
                       Supports(calling="layer", array="numpy", layouts="NCHW", tuple_args=False, padding=False,
                                torch_defaults=False)),
    "class_conv": Layer("classes.py", "Conv", "conv2d", Supports(calling="layer", layouts="NCHW", tuple_args=False),
                        out_of_scope=frozenset()),
    "autograd_max": Layer("autograd_fn.py", "MaxPool2dFunction", "max_pool2d",
                          Supports(layouts="NCHW", tuple_args=False, errors="none"),
                          out_of_scope=frozenset({"errors", "return_indices", "special_values"})),
    "partial_max": Layer("partial.py", "side_by_side_max_pool", "max_pool2d",
                         Supports(tuple_args=False, padding=False, stride="kernel"),
                         out_of_scope=frozenset({"errors", "return_indices", "special_values"})),
}


@dataclass(frozen=True)
class Bug:
    """One bug put into a layer: ``changes`` (old -> new snippets, inside the top-level ``function``,
    or anywhere in the file when it is None), the rows that must ``fail`` (the first fails first) and
    rows that must ``hold`` beside them; ``examples`` per property it takes to be found."""

    layer: str
    changes: dict[str, str]
    fail: tuple[str, ...]
    hold: tuple[str, ...] = ()
    function: str | None = None
    examples: int = EXAMPLES

    def selected(self) -> tuple[str, ...]:
        return self.fail + self.hold


MAX_WINDOW = "window = padded[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]"
NHWC_SHARE = "share = top / top.sum(axis=(1, 2), keepdims=True)"

BUGS = {
    "output rows H // stride": Bug(
        "numpy_nchw_max", {"h_out = (h + 2 * padding - kernel_size) // stride + 1": "h_out = h // stride"},
        fail=("shape",), function="max_pool2d"),
    "padding ignored": Bug(
        "numpy_nchw_max",
        {"h_out = (h + 2 * padding - kernel_size)": "h_out = (h - kernel_size)",
         "w_out = (w + 2 * padding - kernel_size)": "w_out = (w - kernel_size)",
         "padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)":
             "padded = x"},
        fail=("shape",), function="max_pool2d"),
    "windows start at i * kernel_size": Bug(
        "numpy_nchw_max",
        {MAX_WINDOW: "window = padded[:, :, i * kernel_size:(i + 1) * kernel_size, "
                     "j * kernel_size:(j + 1) * kernel_size]"},
        fail=("matches_torch", "window_membership"), hold=("shape", "dtype"), function="max_pool2d"),
    "H and W swapped": Bug(
        "numpy_nchw_max", {"n, c, h, w = x.shape": "n, c, w, h = x.shape"}, fail=("shape",), function="max_pool2d"),
    "float32 output": Bug(
        "numpy_nchw_max", {"out = np.empty((n, c, h_out, w_out), dtype=x.dtype)":
                           "out = np.empty((n, c, h_out, w_out), dtype=np.float32)"},
        fail=("precision", "dtype"), hold=("matches_torch", "constant"), function="max_pool2d"),
    "float32 accumulation, float64 output": Bug(
        "numpy_nchw_avg", {"padded = np.pad(x, ": "padded = np.pad(x.astype(np.float32), "},
        fail=("precision",), hold=("matches_torch", "dtype"), function="avg_pool2d"),
    "float64 output and a wrong divisor: the value row is not hidden": Bug(
        "numpy_nchw_avg", {"dtype=x.dtype": "dtype=np.float64", "/ (kernel_size * kernel_size)": "/ kernel_size"},
        fail=("matches_torch", "dtype"), hold=("shape",), function="avg_pool2d"),
    "backward spreads the gradient over the window": Bug(
        "numpy_nhwc_max_split", {NHWC_SHARE: "share = np.ones_like(window) / kernel_size**2"},
        fail=("gradient", "gradient_ties"), hold=("matches_torch",), function="max_pool_backward_split"),
    "backward gives every tied maximum the whole gradient": Bug(
        "numpy_nhwc_max_split", {NHWC_SHARE: "share = top * 1.0"},
        fail=("gradient_ties",), hold=("gradient",), function="max_pool_backward_split"),
    "backward ignores the stride": Bug(
        "numpy_nhwc_max",
        {"dx[b, i * stride + rows[b, ch], j * stride + cols[b, ch], ch]":
         "dx[b, i * kernel_size + rows[b, ch], j * kernel_size + cols[b, ch], ch]"},
        fail=("gradient",), hold=("matches_torch",), function="max_pool_backward"),
    "HWIO weight read with kh and kw swapped": Bug(
        "numpy_nhwc_conv", {"kh, kw, _, c_out = w.shape": "kw, kh, _, c_out = w.shape"},
        fail=("shape",), function="conv2d"),
    "conv backward: dw from the first image only": Bug(
        "cs231n_conv", {"dw += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))":
                        "dw += np.tensordot(dout[:1, :, i, j], patch[:1], axes=([0], [0]))"},
        fail=("gradient",), hold=("matches_torch",), function="conv_backward_naive"),
    "conv backward: db of the first image only": Bug(
        "cs231n_conv", {"db = dout.sum(axis=(0, 2, 3))": "db = dout[0].sum(axis=(1, 2))"},
        fail=("gradient",), hold=("matches_torch",), function="conv_backward_naive", examples=40),
    "pool backward: every tied maximum gets the gradient": Bug(
        "cs231n_max",
        {"u, v = np.unravel_index(window.argmax(), window.shape)\n"
         "                    dx[b, ch, i * stride + u, j * stride + v] += dout[b, ch, i, j]":
         "dx[b, ch, i * stride:i * stride + ph, j * stride:j * stride + pw] += (window == window.max()) * "
         "dout[b, ch, i, j]"},
        fail=("gradient_ties",), hold=("gradient",), function="max_pool_backward_naive"),
    "layer class: backward ignores the stride": Bug(
        "class_max", {"dx[:, :, i * s:i * s + k, j * s:j * s + k] +=": "dx[:, :, i * k:i * k + k, j * k:j * k + k] +="},
        fail=("gradient",), hold=("matches_torch",)),
    "layer class: bias ignored": Bug(
        "class_conv", {" + self.bias": ""}, fail=("matches_torch", "bias"), hold=("shape", "linearity_input")),
    "autograd.Function: gradient to each window's corner": Bug(
        "autograd_max", {"(best,) = ctx.saved_tensors": "best = torch.zeros_like(ctx.saved_tensors[0])"},
        fail=("gradient",), hold=("matches_torch",)),
    "single plane: divides by twice the size": Bug(
        "single_plane_avg", {".mean()": ".sum() / (2 * size)"}, fail=("matches_torch",), hold=("shape",),
        function="average_plane"),
    "single image: output rows H // stride": Bug(
        "single_image_max", {"h_out = (h + 2 * padding - kernel_size) // stride + 1": "h_out = h // stride"},
        fail=("shape",), function="max_pool_image"),
}


def source(layer: Layer, bug: Bug | None = None) -> str:
    """The layer's file, with the bug's changes."""
    text = (CORPUS / layer.file).read_text()
    if bug is None:
        return text
    if bug.function is not None:
        return mutate(text, bug.function, bug.changes)
    for old, new in bug.changes.items():
        assert text.count(old) == 1, f"{layer.file} contains {old!r} {text.count(old)} times instead of once"
        text = text.replace(old, new)
    return text


def run(layer: Layer, bug: Bug | None = None, **options):
    module = load_module(source(layer, bug), f"cnngrade_tests_conformance_{next(_modules)}")
    backward = getattr(module, layer.backward) if layer.backward else None
    return conform(layer.op, getattr(module, layer.name), supports=layer.supports, backward=backward, profile=CI,
                   max_examples=bug.examples if bug else EXAMPLES, **options)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_correct_layer_declared_honestly_holds_every_property_in_scope(name):
    layer = LAYERS[name]
    table = run(layer)
    assert table.passed, str(table)
    assert {row.property for row in table.rows if row.status == OUT_OF_SCOPE} == layer.out_of_scope, str(table)
    assert set(table.held) == set(property_names(OPERATIONS[layer.op], layer.supports)) - layer.out_of_scope


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_bug_fails_on_its_row(name):
    bug = BUGS[name]
    table = run(LAYERS[bug.layer], bug, only=bug.selected())
    failed = [row.property for row in table.rows if row.status == FAIL]
    assert failed == sorted(bug.fail, key=[r.property for r in table.rows].index), str(table)
    assert all(table.row(prop).status == PASS for prop in bug.hold), str(table)
    first = table.row(bug.fail[0]).failure
    assert first.message.endswith(f"(property: {bug.fail[0]})") and "Smallest failing input: " in first.message


def test_in_a_full_run_a_float32_output_fails_precision_and_dtype_only():
    """Every row run: the values hold (compared after casting), the float64 precision and the dtype do not."""
    bug = BUGS["float32 output"]
    table = run(LAYERS[bug.layer], bug)
    assert [row.property for row in table.rows if row.status == FAIL] == list(bug.fail)
    assert table.failures[0].property == "precision" and table.row("matches_torch").status == PASS


def test_not_implemented_inside_the_declaration_fails_and_outside_it_is_out_of_scope():
    layer = LAYERS["partial_max"]
    wider = Layer(layer.file, layer.name, layer.op, Supports(tuple_args=False, stride="kernel"))
    table = run(wider, only=("shape", "errors"))
    shape = table.row("shape").failure
    assert "raised NotImplementedError: only windows side by side, without padding, for a case its declaration " \
           "covers" in shape.message
    assert any("declare padding=False" in hint for hint in shape.hints)
    errors = table.row("errors")
    assert errors.status == OUT_OF_SCOPE and "NotImplementedError for illegal arguments" in errors.reason


# the pytest form: one test per property of a layer, out-of-scope ones skipped (this numpy layer has no backward)
_NCHW = load_module(source(LAYERS["numpy_nchw_max"]), "cnngrade_tests_conformance_pytest_form")
test_the_pytest_form_makes_one_test_per_property = conformance_tests(
    "max_pool2d", _NCHW.max_pool2d, supports=LAYERS["numpy_nchw_max"].supports, profile=CI, max_examples=5
)


def test_a_float64_output_declared_as_such_holds_every_property():
    """numpy code that computes and returns float64 whatever the input is correct, declared so."""
    layer = LAYERS["numpy_nchw_max"]
    float64 = dataclasses.replace(layer, supports=dataclasses.replace(layer.supports, output_dtype="float64"))
    bug = Bug("numpy_nchw_max", {"dtype=x.dtype": "dtype=np.float64"}, fail=(), function="max_pool2d")
    table = run(float64, bug)
    assert table.passed and table.row("dtype").status == PASS, str(table)
    assert not run(layer, bug, only="dtype").passed


def test_a_keyword_the_layer_does_not_take_is_named_with_the_declaration_that_leaves_it_out():
    def max_pool(x, kernel_size, stride):  # no padding argument
        return torch.nn.functional.max_pool2d(x, kernel_size, stride)

    shape = conform("max_pool2d", max_pool, supports=Supports(torch_defaults=False), only="shape").row("shape")
    assert shape.status == FAIL and "unexpected keyword argument 'padding'" in str(shape.failure)
    assert shape.failure.hints[0] == "it takes no padding argument: declare padding=False if there is no padding"
    declared = Supports(torch_defaults=False, padding=False)
    assert conform("max_pool2d", max_pool, supports=declared, only="shape").row("shape").status == PASS
