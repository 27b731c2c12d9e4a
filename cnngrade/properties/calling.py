"""How an implementation is adapted and called.

A check accepts three kinds of implementation (:func:`adapt_kind`)::

    "function"   fn(x, **kwargs)           torch.nn.functional's signature
    "class"      fn(**kwargs)(x)           an nn.Module class, one layer built per example
    "instance"   fn(x)                     an nn.Module instance, its arguments fixed

and names it in messages by :func:`callable_name`. The implementation receives copies of the
checks' tensors (:func:`fresh`), so that modifying its arguments cannot corrupt the references.
Its exceptions become failures (worded by :func:`exception_text`), except those that say the
code is not there to check (:func:`reraised`).
"""

from __future__ import annotations

from typing import Any

import torch

from cnngrade.properties.failure import PropertyFailed


def reraised(exc: BaseException) -> bool:
    """Exceptions that are not a property failing: a blank template, a missing part."""
    if isinstance(exc, NotImplementedError | PropertyFailed):
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


def adapt_kind(fn: Any) -> str:
    """``"class"`` for an ``nn.Module`` subclass, ``"instance"`` for a module, else ``"function"``."""
    if isinstance(fn, type) and issubclass(fn, torch.nn.Module):
        return "class"
    if isinstance(fn, torch.nn.Module):
        return "instance"
    if callable(fn):
        return "function"
    raise TypeError(f"expected a function, an nn.Module or an nn.Module class, got {type(fn).__name__}")


def callable_name(fn: Any) -> str:
    """The name used in messages: ``max_pool2d``, ``MaxPool2d``, or the module's repr."""
    kind = adapt_kind(fn)
    if kind == "instance":
        return repr(fn).splitlines()[0]
    return getattr(fn, "__name__", None) or type(fn).__name__
