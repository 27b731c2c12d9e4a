"""Fixtures shared by the graders (the plugin itself comes from cnngrade.plugin)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from cnngrade.inputs import image_batch


@pytest.fixture
def images(lab) -> Callable[[int], torch.Tensor]:
    """``images(n)``: a reproducible batch of n input images of the lab's input shape."""
    shape = tuple(lab.setting("net.input_shape"))
    return lambda n, seed=0: image_batch(n, shape, seed)
