"""The submission handle: everything a grader may ask of a submission.

Graders never import student code. They call a :class:`Submission`, whose methods take and
return plain data (tensors, numbers, strings and the small dataclasses below), so that the
student code can run in this process (:mod:`cnngrade.submission.inprocess`) or in a sandboxed child.
Methods raise :class:`cnngrade.submission.errors.SubmissionError` subclasses for every problem caused
by the submission.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class ModuleInfo:
    """One submodule of the student's ``Net``: ``name`` as in ``named_modules()``.

    ``kind`` is one of ``conv2d``, ``linear``, ``dropout``, ``relu``, ``pool``, ``norm``,
    ``container`` or ``other``; ``parameters`` counts the module's own parameters (not its
    children's); ``summary`` is its ``repr`` line.
    """

    name: str
    type: str
    kind: str
    parameters: int
    summary: str


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of the student's ``Net``, as in ``named_parameters()``."""

    name: str
    shape: tuple[int, ...]
    requires_grad: bool


@dataclass(frozen=True)
class NetDescription:
    """The structure of a freshly built ``Net()``."""

    modules: tuple[ModuleInfo, ...]
    parameters: tuple[ParameterInfo, ...]

    @property
    def total_parameters(self) -> int:
        """Number of scalar parameters: sum over parameters of prod(shape)."""
        return sum(int(torch.Size(p.shape).numel()) for p in self.parameters)

    def count(self, kind: str) -> int:
        """How many submodules are of ``kind``."""
        return sum(1 for m in self.modules if m.kind == kind)


@dataclass(frozen=True)
class LayerCall:
    """One call of a leaf submodule during a forward pass, in call order.

    ``input_min`` is the smallest value of the call's first input (``nan`` if it has none).
    """

    name: str
    kind: str
    input_min: float
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class ModuleCall:
    """One call of a leaf submodule during a forward pass, in call order: its first tensor input and
    its tensor output (None where it had none)."""

    name: str
    kind: str
    input: torch.Tensor | None
    output: torch.Tensor | None


@dataclass(frozen=True)
class NetRun:
    """The output of one forward pass, and the calls of the net's leaf submodules it made."""

    output: torch.Tensor
    calls: tuple[ModuleCall, ...]


class Submission(abc.ABC):
    """A handle on one submission. Each call is independent of the grader's own state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @abc.abstractmethod
    def build_net(self, seed: int = 0) -> NetDescription:
        """Build a fresh ``Net()`` (after ``torch.manual_seed(seed)``); it becomes the current net."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, *, train: bool = False, seed: int = 0) -> torch.Tensor:
        """The current net's output for ``x``, in train or eval mode, without gradients.

        ``seed`` seeds torch's generator just before the call, so dropout masks are reproducible.
        """

    @abc.abstractmethod
    def run_with_state(
        self, state: dict[str, torch.Tensor], x: torch.Tensor, *, train: bool = False, seed: int = 0
    ) -> NetRun:
        """Build a fresh ``Net()`` (after ``torch.manual_seed(0)``), set the parameters ``state`` names
        (parameter name -> tensor) to its tensors, and run it on ``x`` in train or eval mode without gradients, under
        ``torch.manual_seed(seed)`` (so that its dropout draws the masks the grader's own computation
        draws with that seed): its output and its leaf submodules' calls."""

    @abc.abstractmethod
    def trace(self, x: torch.Tensor) -> list[LayerCall]:
        """The leaf submodules that an eval-mode forward pass on ``x`` calls, in order."""

    @abc.abstractmethod
    def gradients(
        self, x: torch.Tensor, grad_output: torch.Tensor, *, seed: int = 0
    ) -> dict[str, torch.Tensor | None]:
        """Each parameter's gradient of ``sum(net(x) * grad_output)``, in train mode.

        ``None`` for a parameter that got no gradient.
        """

    @abc.abstractmethod
    def train_and_predict(
        self, train_images: torch.Tensor, train_labels: torch.Tensor, recipe: dict, test_images: torch.Tensor
    ) -> torch.Tensor:
        """Train a fresh ``Net()`` with the harness's recipe (:class:`cnngrade.submission.training.Recipe` fields)
        on uint8 ``train_images`` (N, 28, 28), then predict labels (int64) for ``test_images``.

        The test labels never reach the submission: the caller computes the accuracy.
        """

    @abc.abstractmethod
    def predict_with_state(self, state: dict[str, torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        """Load ``state`` (a state_dict) into a fresh ``Net()`` and predict labels for uint8 ``images``."""

    @abc.abstractmethod
    def cpu_only_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Build a fresh ``Net()`` and run an eval forward pass while CUDA reports unavailable."""

    @abc.abstractmethod
    def forward_on(self, device: str, x: torch.Tensor) -> tuple[torch.Tensor, list[str], str]:
        """Move the current net with ``.to(device)`` and run eval ``net(x.to(device))``.

        Returns the output (on the CPU), the names of parameters and buffers not on ``device``
        after the move, and the device the output was on.
        """

    @abc.abstractmethod
    def data_parallel_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Eval output of ``nn.DataParallel(net)`` for ``x``."""

    @abc.abstractmethod
    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the submission's function ``name`` with plain-data arguments; plain data back."""

    @abc.abstractmethod
    def constant(self, name: str) -> Any:
        """The value of the submission's top-level constant ``name`` (an answer), as plain data."""

    @abc.abstractmethod
    def ops_used(self, name: str, *args: Any, **kwargs: Any) -> list[str]:
        """The ATen operators (``aten.max_pool2d_with_indices.default``, ...) that a call of the
        submission's function ``name`` runs, whatever Python path reaches them (for the "written
        from scratch" checks). An exception in the call ends the recording, not the check."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Get ready to serve calls without waiting (a backend that runs a process starts it now)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the handle holds (processes, temporary files)."""
