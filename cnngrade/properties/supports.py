"""What an implementation declares: how it is called, the argument space it supports, and what must hold.

:class:`Supports` is the one declaration every check takes (``supports=``) and ``cnngrade conform``
builds from its options. The checks draw only cases the declaration covers, call the implementation
the way it declares, and leave out (as *out of scope*) the properties it does not ask for. Its
defaults are the core of ``torch.nn.functional``'s contract, so that torch's own functions pass
their suites with the defaults; each field can declare less as well as more.

:func:`as_supports` turns the short forms a check also accepts (``None``, ``"torch"``, ``"all"``,
a set of extension axis names) into one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from cnngrade.properties.failure import UsageError

#: input forms: batched, one image, one plane; channels first or last
LAYOUTS = ("NCHW", "CHW", "HW", "NHWC", "HWC")
#: the choices of each declaration that takes one of several words
CHOICES: dict[str, tuple[str, ...]] = {
    "array": ("torch", "numpy"),
    "calling": ("torch", "cs231n", "layer"),
    "weight_layout": ("OIHW", "HWIO"),
    "stride": ("any", "1", "kernel"),
    "output_dtype": ("input", "float64", "any"),
    "errors": ("any", "torch", "none"),
}
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


def _doc(text: str) -> dict[str, Any]:
    return {"help": text}


def _axis(text: str) -> dict[str, Any]:
    """An extension axis: off by default, declaring it adds cases (and properties)."""
    return {"help": text, "axis": True}


@dataclass(frozen=True)
class Supports:
    """What an implementation declares; every field's meaning is its ``help`` metadata (also the
    help of ``cnngrade conform``'s options and the table of ``docs/properties.md``).

    Declare with keywords, e.g. a numpy max pooling on NHWC batches without padding::

        Supports(array="numpy", layouts="NHWC", padding=False)
    """

    # -- how it is called ---------------------------------------------------------------------
    array: str = field(default="torch", metadata=_doc(
        "the arrays it takes and returns: torch tensors, or numpy arrays (converted at the boundary)"))
    calling: str = field(default="torch", metadata=_doc(
        "torch: torch.nn.functional's signature (or an nn.Module, an autograd.Function); "
        "cs231n: forward(x, param) -> (out, cache) and backward(dout, cache); "
        "layer: a class built with the arguments, called through its forward (and backward) methods"))
    layouts: tuple[str, ...] = field(default=("NCHW", "CHW"), metadata=_doc(
        "the input forms it takes, each example drawn in one of them: NCHW, CHW, HW (one plane, "
        "pooling only), NHWC, HWC; the output comes back in the input's form"))
    weight_layout: str = field(default="OIHW", metadata=_doc(
        "convolution weights as (out, in, kh, kw) like torch, or (kh, kw, in, out)"))
    names: tuple[tuple[str, str], ...] = field(default=(), metadata=_doc(
        "its own names for torch's keyword arguments, e.g. kernel_size=pool_size (and weight / bias "
        "attributes of a layer class)"))
    # -- the argument space -------------------------------------------------------------------
    tuple_args: bool = field(default=True, metadata=_doc(
        "kernel_size, stride, padding (and dilation) also as (h, w) pairs; off: ints only"))
    square_kernels: bool = field(default=False, metadata=_doc("only square kernels"))
    padding: bool = field(default=True, metadata=_doc(
        "padding; off: no padding, and no padding argument passed"))
    stride: str = field(default="any", metadata=_doc(
        "any stride; 1: stride 1 only; kernel: stride = kernel size only (not passed where it is "
        "torch's default)"))
    torch_defaults: bool = field(default=True, metadata=_doc(
        "torch's defaults may be relied on: pooling's stride left out or None, a convolution's bias None; "
        "off: every argument passed as a value (zeros for no bias)"))
    dtypes: tuple[torch.dtype, ...] = field(default=(torch.float32, torch.float64), metadata=_doc(
        "the floating dtypes inputs are drawn in"))
    # -- what must hold -----------------------------------------------------------------------
    output_dtype: str = field(default="input", metadata=_doc(
        "the output's dtype: the input's (as torch), always float64, or any (not checked)"))
    dtype_in_values: bool = field(default=False, metadata=_doc(
        "every value comparison also requires the output's dtype (the lab's grading); off: a dtype "
        "difference is its own row, values compared after casting"))
    errors: str = field(default="any", metadata=_doc(
        "arguments torch refuses must raise: any exception, torch's (ValueError or RuntimeError), "
        "or none (not checked)"))
    # -- extension axes (off unless declared) --------------------------------------------------
    dilation: bool = field(default=False, metadata=_axis("dilation= for max pooling, unfold, fold, convolution"))
    ceil_mode: bool = field(default=False, metadata=_axis("ceil_mode= for pooling"))
    count_include_pad: bool = field(default=False, metadata=_axis("count_include_pad=False for average pooling"))
    divisor_override: bool = field(default=False, metadata=_axis("divisor_override= for average pooling"))
    return_indices: bool = field(default=False, metadata=_axis("return_indices=True for max pooling"))
    empty_batch: bool = field(default=False, metadata=_axis("batch size N = 0"))
    non_contiguous: bool = field(default=False, metadata=_axis("non-contiguous tensors (transposed views, slices)"))
    channels_last: bool = field(default=False, metadata=_axis("4-D tensors in torch.channels_last memory format"))
    nan_inf: bool = field(default=False, metadata=_axis("NaN propagation and windows of all -inf"))
    groups: bool = field(default=False, metadata=_axis("groups= for convolution"))
    same_padding: bool = field(default=False, metadata=_axis("padding='same' and 'valid' for convolution"))

    def __post_init__(self) -> None:
        layouts = self.layouts.replace(" ", "").split(",") if isinstance(self.layouts, str) else self.layouts
        object.__setattr__(self, "layouts", tuple(layouts))
        names = self.names.items() if isinstance(self.names, Mapping) else self.names
        object.__setattr__(self, "names", tuple(sorted((str(k), str(v)) for k, v in names)))
        dtypes = self.dtypes.replace(" ", "").split(",") if isinstance(self.dtypes, str) else self.dtypes
        object.__setattr__(self, "dtypes", tuple(_dtype(d) for d in dtypes))
        if self.errors is None:
            object.__setattr__(self, "errors", "none")
        object.__setattr__(self, "stride", str(self.stride))
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise UsageError(f"Supports({name}={getattr(self, name)!r}): expected one of {', '.join(choices)}")
        unknown = [layout for layout in self.layouts if layout not in LAYOUTS]
        if unknown or not self.layouts:
            raise UsageError(f"Supports(layouts={self.layouts!r}): expected some of {', '.join(LAYOUTS)}")
        if {"NCHW", "CHW"} & set(self.layouts) and {"NHWC", "HWC"} & set(self.layouts):
            raise UsageError(
                f"Supports(layouts={self.layouts!r}): channels first and channels last cannot be told apart "
                "in an input; declare one of them")
        if not self.dtypes:
            raise UsageError("Supports(dtypes=()): declare at least one dtype")

    # -- derived ------------------------------------------------------------------------------

    @property
    def batched(self) -> bool:
        """(N, C, H, W) inputs (or NHWC)."""
        return bool({"NCHW", "NHWC"} & set(self.layouts))

    @property
    def unbatched(self) -> bool:
        """(C, H, W) inputs (or HWC)."""
        return bool({"CHW", "HWC"} & set(self.layouts))

    @property
    def hw_input(self) -> bool:
        """(H, W) inputs (pooling)."""
        return "HW" in self.layouts

    @property
    def channels_at_end(self) -> bool:
        """Channels last: NHWC / HWC inputs."""
        return bool({"NHWC", "HWC"} & set(self.layouts))

    @property
    def leaves_defaults(self) -> bool:
        """Whether torch's defaults may be left to the implementation (never in a cs231n param dict)."""
        return self.torch_defaults and self.calling != "cs231n"

    @property
    def checks_errors(self) -> bool:
        return self.errors != "none"

    @property
    def checks_dtype(self) -> bool:
        """Whether the output dtype has its own row."""
        return self.output_dtype != "any" and not self.dtype_in_values

    @property
    def checks_precision(self) -> bool:
        """Whether float64 results are held to float64 rounding (float64 inputs, a float64 result)."""
        return torch.float64 in self.dtypes and self.output_dtype != "any"

    def name_of(self, argument: str) -> str:
        """The implementation's name for torch's argument ``argument``."""
        return dict(self.names).get(argument, argument)

    def expected_dtype(self, input_dtype: torch.dtype) -> torch.dtype | None:
        """The output dtype the declaration asks for (None: any)."""
        return {"input": input_dtype, "float64": torch.float64, "any": None}[self.output_dtype]

    def declared(self) -> str:
        """``Supports(array='numpy', layouts=('NHWC',))``: the fields that differ from the default."""
        default = Supports()
        changed = [
            f"{f.name}={declared_value(getattr(self, f.name))}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return f"Supports({', '.join(changed)})"

    # -- named declarations -------------------------------------------------------------------

    @classmethod
    def all(cls, **overrides: Any) -> Supports:
        """Every extension axis on, every input form of channels-first code, torch's errors
        (``overrides`` change some again)."""
        values: dict[str, Any] = {name: True for name in cls.axes()}
        values.update(layouts=("NCHW", "CHW", "HW"), errors="torch")
        values.update(overrides)
        return cls(**values)

    @classmethod
    def torch(cls) -> Supports:
        """What ``torch.nn.functional`` supports: everything but ``(H, W)`` pooling inputs."""
        return cls.all(layouts=("NCHW", "CHW"))

    @classmethod
    def axes(cls) -> tuple[str, ...]:
        """The extension axes: the declarations that are off by default and add cases."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("axis"))


def _dtype(value: Any) -> torch.dtype:
    if isinstance(value, torch.dtype) and value.is_floating_point:
        return value
    name = str(value).removeprefix("torch.")
    if name not in _DTYPES:
        raise UsageError(f"Supports(dtypes=...): {value!r} is not one of {', '.join(_DTYPES)}")
    return _DTYPES[name]


def declared_value(value: Any) -> str:
    """A declaration's value as :meth:`Supports.declared` shows it: ``'numpy'``, ``('NHWC',)``,
    ``(float32, float64)``, ``{'kernel_size': 'size'}``."""
    if isinstance(value, tuple) and value and isinstance(value[0], torch.dtype):
        return "(" + ", ".join(str(v).removeprefix("torch.") for v in value) + ")"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in value) + "}"
    return repr(value)


#: the declarations a check's ``supports=`` accepts (see :func:`as_supports`)
SupportsArg = Supports | str | Iterable[str] | None


def as_supports(value: SupportsArg) -> Supports:
    """A :class:`Supports` from a declaration: ``None`` (the default), a ``Supports``, ``"all"``,
    ``"torch"``, one extension axis name, or a set of them added to the default."""
    if value is None:
        return Supports()
    if isinstance(value, Supports):
        return value
    if value == "all":
        return Supports.all()
    if value == "torch":
        return Supports.torch()
    names = {value} if isinstance(value, str) else set(value)
    unknown = names - set(Supports.axes())
    if unknown:
        raise UsageError(
            f"unknown supports axis {sorted(unknown)}; known: {', '.join(Supports.axes())} (other "
            "declarations are keywords of Supports(...))"
        )
    return Supports(**{name: True for name in names})
