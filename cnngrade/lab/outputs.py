"""What a lab's Net returns (``[net] output`` of lab.toml), and the loss and prediction that follow.

==============  ==========================  ============  ==================  =====================
``output``      Net returns, per input      ``classes``   ``[train] loss``    predicted label
==============  ==========================  ============  ==================  =====================
log_softmax     log-probabilities (N, K)    K >= 2        nll, cross_entropy  argmax over dim 1
logits          raw class scores (N, K)     K >= 2        cross_entropy       argmax over dim 1
softmax         probabilities (N, K)        K >= 2        nll (of their log)  argmax over dim 1
sigmoid         a probability (N, 1)        1 (binary)    bce                 1 where p > 0.5
logit           a raw score (N, 1)          1 (binary)    bce_with_logits     1 where z > 0
==============  ==========================  ============  ==================  =====================

``classes = 1`` means a binary lab: labels are 0 or 1, and Net returns one value per input, shape
``(N, 1)`` (``(N,)`` is accepted as well). The loss of a recipe is the output's own unless
``[train] loss`` names another that fits it (``cross_entropy`` on log-probabilities is ``nll``
again, since log_softmax is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from cnngrade.lab.config import LabConfig

#: a loss: ``loss(output, labels)``, labels int64 ``(N,)``
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _nll_of_log(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``nll_loss(log(p), y)``: the loss of a Net that returns probabilities."""
    return F.nll_loss(probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log(), labels)


def _binary(loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Loss:
    """A binary loss on one value per input: output ``(N, 1)`` or ``(N,)``, labels 0 / 1."""

    def binary_loss(output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return loss(output.reshape(len(output)), labels.to(output.dtype))

    binary_loss.__name__ = loss.__name__
    return binary_loss


#: the losses ``[train] loss`` may name; ``nll`` of a ``softmax`` output is taken of its log
LOSSES: dict[str, Loss] = {
    "nll": F.nll_loss,
    "cross_entropy": F.cross_entropy,
    "bce": _binary(F.binary_cross_entropy),
    "bce_with_logits": _binary(F.binary_cross_entropy_with_logits),
}


@dataclass(frozen=True)
class OutputKind:
    """One value of ``[net] output``: what Net returns, the losses that fit it, the lab's last layer."""

    name: str
    #: what Net returns, in words: "log-probabilities"
    returns: str
    binary: bool
    #: the losses that fit this output; the first is the default
    losses: tuple[str, ...]
    #: the kind of the lab's last ``[architecture]`` layer (None: the last linear layer's scores)
    final_layer: str | None

    @property
    def default_loss(self) -> str:
        return self.losses[0]

    def loss(self, name: str | None = None) -> Loss:
        """The training loss ``loss(output, labels)``: ``name`` (one of :attr:`losses`) or the default."""
        name = name or self.default_loss
        if name not in self.losses:
            raise ValueError(f"loss {name!r} does not fit output {self.name!r} (fits: {', '.join(self.losses)})")
        if self.name == "softmax":
            return _nll_of_log
        return LOSSES[name]

    def predict(self, output: torch.Tensor) -> torch.Tensor:
        """Predicted labels, int64 ``(N,)``: argmax over dim 1, or 1 where the binary output says so."""
        if not self.binary:
            return output.argmax(dim=1)
        value = output.reshape(len(output))
        threshold = 0.5 if self.name == "sigmoid" else 0.0
        return (value > threshold).long()

    def fits_classes(self, classes: int) -> bool:
        """``classes`` is 1 for a binary output, at least 2 otherwise."""
        return classes == 1 if self.binary else classes >= 2

    def shapes(self, n: int, classes: int) -> tuple[tuple[int, ...], ...]:
        """The output shapes this kind accepts for a batch of ``n``: ``(n, classes)``; ``(n, 1)`` or
        ``(n,)`` for a binary output."""
        return ((n, 1), (n,)) if self.binary else ((n, classes),)


OUTPUTS: dict[str, OutputKind] = {
    kind.name: kind
    for kind in (
        OutputKind("log_softmax", "log-probabilities", False, ("nll", "cross_entropy"), "log_softmax"),
        OutputKind("logits", "raw class scores (logits)", False, ("cross_entropy",), None),
        OutputKind("softmax", "probabilities", False, ("nll",), "softmax"),
        OutputKind("sigmoid", "a probability", True, ("bce",), "sigmoid"),
        OutputKind("logit", "a raw score (logit)", True, ("bce_with_logits",), None),
    )
}
#: ``[net] output`` where lab.toml does not set it
DEFAULT_OUTPUT = "log_softmax"


def lab_output(lab: LabConfig) -> OutputKind:
    """What the lab's Net returns: its ``[net] output`` (:data:`DEFAULT_OUTPUT` where not set);
    :class:`~cnngrade.lab.config.ConfigError` naming lab.toml for a value that is no output kind."""
    from cnngrade.lab.config import ConfigError  # here: lab.toml's checks read this module's kinds

    try:
        return output_kind(lab.get("net.output", None))
    except ValueError as exc:
        raise ConfigError(f"{lab.path}: [net] {exc}.") from None


def output_kind(name: str | None) -> OutputKind:
    """The :class:`OutputKind` named ``name`` (the default where None); ValueError listing the kinds."""
    name = DEFAULT_OUTPUT if name is None else name
    if name not in OUTPUTS:
        raise ValueError(f"output {name!r} is not an output kind; known: {', '.join(OUTPUTS)}")
    return OUTPUTS[name]
