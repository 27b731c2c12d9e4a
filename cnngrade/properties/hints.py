"""Hints for a failure where the implementation raised: the declarations that would leave the case out.

An implementation that raises on a case (``not enough values to unpack``, ``NotImplementedError``)
often does not support it at all. :func:`window_hints` names, for a case of a sliding-window
operation, each feature of it that a narrower declaration would leave out::

    the input is a single (C, H, W) image: declare layouts=('NCHW',) if only batches are taken
    padding=1: declare padding=False if there is no padding
"""

from __future__ import annotations

import re
from typing import Any

from cnngrade.properties.strategies import pair
from cnngrade.properties.supports import Supports

_ARGUMENTS = ("kernel_size", "stride", "padding", "dilation")


def window_hints(
    supports: Supports, form: str, kwargs: dict[str, Any], kernel: tuple[int, int], *, pool: bool
) -> tuple[str, ...]:
    """The hints for a case whose input is in ``form`` (``NCHW``, ``CHW`` or ``HW``, channels first),
    called with ``kwargs``, of kernel ``kernel`` (``pool``: pooling, whose stride defaults to it)."""
    hints = []
    last = supports.channels_at_end
    if form == "CHW" and supports.batched:
        hints.append(
            f"the input is a single {'(H, W, C)' if last else '(C, H, W)'} image: declare "
            f"layouts=({'NHWC' if last else 'NCHW'!r},) if only batches are taken"
        )
    if form == "HW":
        hints.append("the input is one (H, W) plane: leave HW out of layouts if planes are not taken")
    pairs = [name for name in _ARGUMENTS if isinstance(kwargs.get(name), tuple | list)]
    if pairs:
        hints.append(f"{', '.join(pairs)} given as an (h, w) pair: declare tuple_args=False if only ints are taken")
    if kernel[0] != kernel[1]:
        hints.append(
            f"the kernel is {kernel[0]}x{kernel[1]}: declare square_kernels=True if only square ones are taken"
        )
    stride = kwargs.get("stride", "left out")
    if pool and (stride is None or stride == "left out"):
        hints.append(
            f"stride is {stride if stride is None else 'left out'} (torch's default, the kernel size): "
            "declare torch_defaults=False to have it always passed"
        )
    elif stride not in ("left out", 1, (1, 1)) and pair(stride) != kernel:
        hints.append(f"stride={stride!r}: declare stride='1' or stride='kernel' if only those are taken")
    padding = kwargs.get("padding", 0)
    if padding not in (0, (0, 0), "valid"):
        hints.append(f"padding={padding!r}: declare padding=False if there is no padding")
    return tuple(hints)


_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def keyword_hints(exc: BaseException) -> tuple[str, ...]:
    """The hint for an implementation that refused a keyword argument by name (``TypeError: f() got an
    unexpected keyword argument 'padding'``): the declaration that leaves it out, or renames it."""
    found = _UNEXPECTED.search(str(exc)) if isinstance(exc, TypeError) else None
    if found is None:
        return ()
    name = found[1]
    if name == "padding":
        return ("it takes no padding argument: declare padding=False if there is no padding",)
    return (f"it takes no {name} argument: declare names={{{name!r}: 'its own name'}} if it calls {name} otherwise",)
