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

from cnngrade.lab.config import default_parts
from cnngrade.lab.parts import Parts


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


@dataclass(frozen=True)
class Divergence:
    """The first training step whose loss, or Net's output, was not finite (what the submission's process
    saw: wording only, never a verdict): ``step`` (from 1) of ``steps``, the loss then, and the kinds of
    non-finite values the output held (among ``nan``, ``-inf``, ``inf``; empty where only the loss was)."""

    step: int
    steps: int
    loss: float
    output: tuple[str, ...]


@dataclass(frozen=True)
class Training:
    """What training a fresh Net() with a recipe gave: the predicted labels (int64) of the test inputs,
    the only thing graded, and the first step where training diverged (None where it did not)."""

    predictions: torch.Tensor
    divergence: Divergence | None


@dataclass(frozen=True)
class OpRef:
    """A tensor of an :class:`OpGraph`: its input ``index`` (``source="input"``) or the result of its
    node ``index`` (``source="node"``); ``item`` picks one result of an operator that returns several
    (``aten.max.dim``: values 0, indices 1), None for one that returns one."""

    source: str
    index: int
    item: int | None = None


@dataclass(frozen=True)
class OpName:
    """A ``torch.dtype``, ``torch.layout``, ``torch.memory_format`` or device argument by name
    (``kind`` ``dtype``, ``layout``, ``memory_format`` or ``device``): ``OpName("dtype", "float32")``."""

    kind: str
    name: str


@dataclass(frozen=True)
class OpNode:
    """One ATen operator call of an :class:`OpGraph`: ``op`` as ``aten.NAME.OVERLOAD``
    (``aten.max.dim``); its arguments are :class:`OpRef`, :class:`OpName`, tensors (constants),
    numbers, strings, None, and lists or tuples of them."""

    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class OpGraph:
    """One call of a submission's function traced to ATen operators, without mutation: ``inputs`` is
    how many tensors the call was given (:func:`graph_inputs` of its arguments, in that order),
    ``nodes`` its operators in the order they ran, ``output`` what it returned (an argument as in
    :class:`OpNode`). Values the call read from tensors in Python (``.item()``) are constants."""

    inputs: int
    nodes: tuple[OpNode, ...]
    output: Any


def graph_inputs(args: tuple | list, kwargs: dict | None = None) -> list[torch.Tensor]:
    """The tensors among a call's arguments, the inputs of its :class:`OpGraph`: positional arguments,
    then keyword arguments in their order, each list, tuple or dict searched in order."""
    found: list[torch.Tensor] = []

    def visit(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(list(args))
    visit(dict(kwargs or {}))
    return found


class Submission(abc.ABC):
    """A handle on one submission. Each call is independent of the grader's own state."""

    def __init__(self, path: Path, parts: Parts | None = None) -> None:
        """``parts``: the lab's file contract (default: that of the project's default lab, ``graders/lab.toml``)."""
        self.path = path
        self.parts = parts if parts is not None else default_parts()

    @abc.abstractmethod
    def build_net(self, seed: int = 0, state: dict[str, torch.Tensor] | None = None) -> NetDescription:
        """Build a fresh ``Net()`` (after ``torch.manual_seed(seed)``) and set the parameters ``state`` names
        (parameter name -> tensor) to its tensors; it becomes the current net."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, *, train: bool = False, seed: int = 0, threads: int = 0) -> torch.Tensor:
        """The current net's output for ``x``, in train or eval mode, without gradients.

        ``seed`` seeds torch's generator just before the call, so dropout masks are reproducible.
        ``threads``: torch's intra-op threads during the call (0: the process's own count), as the speed
        check times it.
        """

    @abc.abstractmethod
    def run_with_state(
        self, state: dict[str, torch.Tensor], x: torch.Tensor, *, train: bool = False, seed: int = 0,
        build_seed: int = 0, record: bool = True,
    ) -> NetRun:
        """Build a fresh ``Net()`` (after ``torch.manual_seed(build_seed)``), set the parameters ``state``
        names (parameter name -> tensor) to its tensors, and run it on ``x`` in train or eval mode without
        gradients, under ``torch.manual_seed(seed)`` (so that its dropout draws the masks the grader's own
        computation draws with that seed): its output and, with ``record``, its leaf submodules' calls."""

    @abc.abstractmethod
    def gradients(
        self, state: dict[str, torch.Tensor], x: torch.Tensor, grad_output: torch.Tensor, *, seed: int = 0
    ) -> dict[str, torch.Tensor | None]:
        """Build a fresh ``Net()`` (after ``torch.manual_seed(0)``), set the parameters ``state`` names, and
        return each parameter's gradient of ``sum(net(x) * grad_output)`` in train mode under
        ``torch.manual_seed(seed)``; ``None`` for a parameter that got no gradient."""

    @abc.abstractmethod
    def train_and_predict(
        self, train_images: torch.Tensor, train_labels: torch.Tensor, recipe: dict, test_images: torch.Tensor
    ) -> Training:
        """Train a fresh ``Net()`` with a recipe (:class:`cnngrade.submission.training.Recipe` fields: the
        harness's, or the lab's) on uint8 ``train_images`` (N, H, W) or (N, C, H, W), then predict labels
        (int64) for ``test_images``; say where training diverged, if it did
        (:mod:`cnngrade.submission.divergence`).

        The test labels never reach the submission: the caller computes the accuracy.
        """

    @abc.abstractmethod
    def predict_with_state(self, state: dict[str, torch.Tensor], images: torch.Tensor, recipe: dict) -> torch.Tensor:
        """Load ``state`` (a state_dict) into a fresh ``Net()`` and predict labels for uint8 ``images``,
        normalised as the ``recipe`` says (its ``mean``, ``std`` and ``threads``)."""

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
    def op_graph(self, name: str, *args: Any, **kwargs: Any) -> OpGraph:
        """One call of the submission's function ``name`` traced to the ATen operators it runs, whatever
        Python path reaches them (for the "written from scratch" checks). The graph is untrusted data:
        the grader checks it (:mod:`cnngrade.grader.op_graphs`) by running it itself."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Get ready to serve calls without waiting (a backend that runs a process starts it now)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the handle holds (processes, temporary files)."""
