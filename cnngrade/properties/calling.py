"""How an implementation is called: its kind, its name in messages, and its exceptions.

A check accepts these kinds of implementation (:func:`adapt_kind`), as its declaration's
``calling`` says (see :class:`~cnngrade.properties.supports.Supports`)::

    calling  kind        called as                                backward
    torch    "function"  fn(x, **kwargs)  torch.nn.functional's    backward=bwd: bwd(dout, x, **kwargs)
             "class"     fn(**kwargs)(x)  an nn.Module class       autograd
             "instance"  fn(x)            an nn.Module, arguments   autograd
                                          fixed by its attributes
             "autograd"  fn.apply(x, ...) an autograd.Function,    its own backward, through autograd
                                          torch's positional order
    cs231n   "cs231n"    fn(x, param) -> (out, cache)               backward=bwd: bwd(dout, cache)
    layer    "layer"     fn(**kwargs).forward(x)  a plain class     its backward(dout) method, if any

Anything else (a plain object, a class that is not an nn.Module without ``calling="layer"``) is a
:class:`~cnngrade.properties.failure.UsageError` that says what to pass. The implementation
receives copies of the checks' tensors (:func:`fresh`), so that modifying its arguments cannot
corrupt the references. Its exceptions become failures (worded by :func:`exception_text`), except
those of the grading machinery (:func:`reraised`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from cnngrade.properties.failure import PropertyFailed, UsageError


def reraised(exc: BaseException) -> bool:
    """Exceptions that are not the implementation failing: a property failing inside another, or
    the grader's word that a submission's part is missing or left blank."""
    if isinstance(exc, PropertyFailed | UsageError):
        return True
    try:
        from cnngrade.submission.errors import LoadError, MissingPart, NotImplementedYet
    except ImportError:  # pragma: no cover - cnngrade.properties used on its own
        return False
    return isinstance(exc, LoadError | MissingPart | NotImplementedYet)


def fresh(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A copy of ``tensor`` with the same strides (layout), for the implementation to receive, so
    that an implementation modifying its argument cannot corrupt the checks' own references
    (only the ``no_mutation`` property hands over the original). Tensors that require grad are
    passed as they are."""
    if tensor is None or tensor.requires_grad:
        return tensor
    copy = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype, device=tensor.device)
    return copy.copy_(tensor)


def exception_text(exc: BaseException) -> str:
    """``ValueError: bad shape`` (first line of the message only)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def adapt_kind(fn: Any, calling: str = "torch", backward: Callable[..., Any] | None = None) -> str:
    """The kind of ``fn`` for the declared ``calling`` (module docstring), or :class:`UsageError`."""
    label = _label(fn)
    if calling == "layer":
        if not (isinstance(fn, type) and callable(getattr(fn, "forward", None))):
            raise UsageError(
                f"calling='layer' takes a class with a forward method, built once per example; {label} is not one"
            )
        if backward is not None:
            raise UsageError("calling='layer' checks the class's own backward method; pass no backward=")
        return "layer"
    if calling == "cs231n":
        if isinstance(fn, type) or not callable(fn):
            raise UsageError(
                f"calling='cs231n' takes a forward function fn(x, ..., param) -> (out, cache); {label} is not one"
            )
        return "cs231n"
    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
        kind = "autograd"
    elif isinstance(fn, type) and issubclass(fn, torch.nn.Module):
        kind = "class"
    elif isinstance(fn, torch.nn.Module):
        kind = "instance"
    elif isinstance(fn, type):
        how = "with a forward method: declare calling='layer' to build one per example and call its forward" if (
            callable(getattr(fn, "forward", None))) else "that is neither an nn.Module nor an autograd.Function"
        raise UsageError(f"{label} is a class {how} (or pass a function with torch.nn.functional's signature)")
    elif callable(fn):
        kind = "function"
    elif callable(getattr(fn, "forward", None)):
        raise UsageError(
            f"{label} is an object with a forward method, not a function or an nn.Module: pass its class with "
            "calling='layer' (one built per example), or a function with torch.nn.functional's signature"
        )
    else:
        raise UsageError(f"expected a function, an nn.Module, an nn.Module class or an autograd.Function, got {label}")
    if backward is not None and kind != "function":
        raise UsageError(f"backward= goes with a function; a {_KIND_WORDS[kind]} is differentiated through autograd")
    return kind


_KIND_WORDS = {"autograd": "autograd.Function", "class": "nn.Module class", "instance": "nn.Module"}


def _label(fn: Any) -> str:
    if isinstance(fn, type):
        return f"`{fn.__name__}`"
    name = getattr(fn, "__name__", None)
    return f"`{name}`" if name else f"a {type(fn).__name__} object"


#: torch.nn.functional's positional order after the tensors, and its defaults (autograd.Function.apply
#: takes no keywords)
POSITIONAL = {
    "max": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "unfold": ("kernel_size", "dilation", "padding", "stride"),
    "fold": ("output_size", "kernel_size", "dilation", "padding", "stride"),
    "conv2d": ("stride", "padding", "dilation", "groups"),
}
DEFAULTS = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False,
            "count_include_pad": True, "divisor_override": None, "groups": 1}


def positional(kind: str, kwargs: dict[str, Any]) -> list[Any]:
    """``kwargs`` as torch's positional arguments for ``kind``, up to the last one given (torch's
    defaults filling the gaps; a convolution's stride defaults to 1)."""
    order = POSITIONAL[kind]
    given = [i for i, name in enumerate(order) if name in kwargs]
    defaults = {**DEFAULTS, "stride": 1} if kind in ("conv2d", "unfold", "fold") else DEFAULTS
    return [kwargs.get(name, defaults.get(name)) for name in order[: max(given, default=-1) + 1]]


def callable_name(fn: Any) -> str:
    """The name used in messages: ``max_pool2d``, ``MaxPool2d``, or a module instance's repr."""
    if isinstance(fn, torch.nn.Module):
        return repr(fn).splitlines()[0]
    return getattr(fn, "__name__", None) or type(fn).__name__
