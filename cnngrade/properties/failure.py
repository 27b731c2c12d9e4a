"""The failure every check raises: :class:`PropertyFailed`, an ``AssertionError``.

Its message is one sentence a student reads: the call, what it was called on, what should
hold and what was seen, the smallest failing input, and the property's name::

    max_pool2d(x, kernel_size=1, stride=2, padding=0) on a (1, 1, 1, 2) float32 tensor: output
    shape should be (1, 1, 1, 1) (H_out = floor((H + 2p - k)/s) + 1) but was (1, 1, 1, 2).
    Smallest failing input: x = tensor([[[[0., 0.]]]]). (property: shape)
"""

from __future__ import annotations

from typing import Any


class PropertyFailed(AssertionError):
    """A property of the implementation does not hold.

    Attributes: ``property`` (its name, e.g. ``"shape"``), ``expected`` and ``seen`` (values or
    short descriptions), ``counterexample`` (a dict of the smallest failing inputs, as Hypothesis
    shrank them) and ``function`` (how the implementation was called). ``str()`` is the message.
    """

    def __init__(
        self,
        message: str,
        *,
        property: str,
        expected: Any = None,
        seen: Any = None,
        counterexample: dict[str, Any] | None = None,
        function: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.property = property
        self.expected = expected
        self.seen = seen
        self.counterexample = counterexample or {}
        self.function = function

    def __str__(self) -> str:
        return self.message
