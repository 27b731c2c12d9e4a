"""What a check raises: :class:`PropertyFailed` (an ``AssertionError``) when a property does not
hold, :class:`UsageError` when the check itself is called wrongly.

A failure's message is one sentence a student reads: the call, what it was called on, what should
hold and what was seen, the smallest failing input, and the property's name::

    max_pool2d(x, kernel_size=1, stride=2, padding=0) on a (1, 1, 1, 2) float32 tensor: output
    shape should be (1, 1, 1, 1) (H_out = floor((H + 2p - k)/s) + 1) but was (1, 1, 1, 2).
    Smallest failing input: x = tensor([[[[0., 0.]]]]). (property: shape)
"""

from __future__ import annotations

from typing import Any


class PropertyFailed(AssertionError):
    """A property of the implementation does not hold (or several: see ``failures``).

    Attributes: ``property`` (its name, e.g. ``"shape"``), ``expected`` and ``seen`` (values or
    short descriptions), ``counterexample`` (a dict of the smallest failing inputs, as Hypothesis
    shrank them, in the form the implementation received them), ``function`` (how the
    implementation was called), ``hints`` (declarations that would leave the failing case out,
    where the implementation raised an exception on it) and ``failures`` (every property that
    failed in the run, this one first). ``str()`` is the message.
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
        hints: tuple[str, ...] = (),
        failures: tuple[PropertyFailed, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.property = property
        self.expected = expected
        self.seen = seen
        self.counterexample = counterexample or {}
        self.function = function
        self.hints = hints
        self.failures = failures or (self,)

    def __str__(self) -> str:
        return self.message


class UsageError(TypeError, ValueError):
    """A check called wrongly: an object it cannot call, a declaration it cannot honour, a property
    name it does not have. The message says what to pass instead. (A ``TypeError`` for what was
    passed, a ``ValueError`` for the values declared: both catch it.)"""
