"""A training run that diverges: the first step whose loss, or Net's output, is NaN or infinite.

:class:`DivergenceWatch` runs where the submission's code runs (in the sandboxed child under the
isolated backend): it looks at each training step's output (a forward hook on the net) and loss
(:func:`cnngrade.submission.training.fit`'s ``progress``), and keeps the first step where either is
not finite as a :class:`~cnngrade.submission.handle.Divergence`. That report is only wording for the
grader (:func:`describe`): the verdict stays the accuracy the grader computes from the predictions.
"""

from __future__ import annotations

import math
from types import TracebackType

import torch
from torch import nn

from cnngrade.submission.handle import Divergence

#: what a non-finite value of Net's output is called in a :class:`Divergence`
NON_FINITE = {"nan": torch.isnan, "-inf": torch.isneginf, "inf": torch.isposinf}
#: how a non-finite kind is written in a message
SHOWN = {"nan": "NaN"}


def non_finite(values: torch.Tensor) -> tuple[str, ...]:
    """The kinds of non-finite values ``values`` holds, among ``nan``, ``-inf`` and ``inf``."""
    if not values.is_floating_point() or bool(torch.isfinite(values).all()):
        return ()
    return tuple(name for name, test in NON_FINITE.items() if bool(test(values).any()))


class DivergenceWatch:
    """Watches one training run of ``net``: use it as a context manager around the training (it hooks
    the net's forward calls) and pass :meth:`progress` as the training's ``progress`` callback;
    :attr:`found` is then the first step whose output or loss was not finite, or None."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net
        self.found: Divergence | None = None
        #: the non-finite kinds of the latest forward call's output
        self._output: tuple[str, ...] = ()
        self._hook: torch.utils.hooks.RemovableHandle | None = None

    def __enter__(self) -> DivergenceWatch:
        self._hook = self.net.register_forward_hook(self._forward)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _forward(self, module: nn.Module, args: object, output: object) -> None:
        if self.found is None:
            self._output = non_finite(output.detach()) if isinstance(output, torch.Tensor) else ()

    def progress(self, step: int, total: int, loss: float) -> None:
        """After training step ``step`` (from 1) of ``total``, whose loss was ``loss``."""
        if self.found is None and (self._output or not math.isfinite(loss)):
            self.found = Divergence(step=step, steps=total, loss=loss, output=self._output)


def describe(divergence: Divergence, output: str) -> str:
    """One sentence for the student: at which step training diverged, and the likely cause, for a Net
    that returns ``output`` (``[net] output``: ``log_softmax``, ``logits``, ...)."""
    where = f"at step {divergence.step} of {divergence.steps}"
    if "-inf" in divergence.output:
        fix = (" Return F.log_softmax(x, dim=1), which computes the same without underflow."
               if output == "log_softmax" else "")
        return (f"Net's output held -inf {where}, and training cannot recover from it: a log of a probability "
                "that underflowed to 0, as torch.log(F.softmax(x)) does once the class scores are far apart." + fix)
    if divergence.output:
        values = " and ".join(SHOWN.get(value, value) for value in divergence.output)
        return (f"Net's output held {values} {where}, and training cannot recover from it: look in forward for a "
                "log or a division of a value that can reach 0, or an exp that overflows.")
    return (f"The training loss became {divergence.loss} {where}, although Net's output was finite: check that "
            "Net returns what the lab's loss expects.")
