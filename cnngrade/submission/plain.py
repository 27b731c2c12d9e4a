"""Plain data: the only values that cross from a submission to the graders.

None, bools, ints, floats, strings, plain tensors, and lists, tuples and str-keyed dicts of them.
Numpy arrays and numpy scalars become tensors and numbers; anything else is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cnngrade.submission.errors import WrongReturn, describe_value


def to_plain(value: Any, what: str) -> Any:
    """``value`` as plain data (tensors detached, copied and of the base class), or :class:`WrongReturn`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return type(value)(value) if value is not None else None
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).clone()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v, what) for v in value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: to_plain(v, what) for k, v in value.items()}
    raise WrongReturn(f"{what} is {describe_value(value)}; expected a number, a string, a tensor or a list.")
