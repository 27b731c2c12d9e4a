"""The harness's fixed training recipe: train a submitted architecture, predict labels.

A recipe comes from ``[train]`` in lab.toml. Training is deterministic on the CPU for a fixed
seed: the model is built, batches are shuffled and dropout masks drawn from that seed. This runs
wherever the submission's code runs (in the grading process, or in the sandboxed child); the
grader computes the accuracy from the predictions (:mod:`cnngrade.grader.accuracy`).
Images travel as uint8 ``(N, H, W)`` (or ``(N, C, H, W)``) tensors and are normalised per batch,
each channel c: x = (pixel / 255 - mean[c]) / std[c], with the lab's ``[net] input_mean`` / ``input_std``;
tabular features travel as float32 ``(N, F)`` and are normalised per feature f: x = (x - mean[f]) / std[f]
(as they are where the lab gives no mean and standard deviation). The loss and the predicted labels
follow from what the net returns (``[net] output``: :mod:`cnngrade.lab.outputs`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
from torch import nn

from cnngrade.data.split import MNIST_MEAN, MNIST_STD, normalize
from cnngrade.lab.outputs import DEFAULT_OUTPUT, OutputKind, output_kind
from cnngrade.submission.errors import StudentCodeError

OPTIMIZERS = ("adam", "sgd")
#: training that takes this many times ``max_cpu_seconds`` in wall-clock time is stopped (a last resort)
WALL_FACTOR = 10
SCHEDULES = ("none", "onecycle")


class TrainingTooSlow(StudentCodeError):
    """Training ran past the recipe's ``max_cpu_seconds`` (feedback for the student)."""


@dataclass(frozen=True)
class Recipe:
    """How the harness trains a submitted architecture.

    ``epochs`` passes over the training inputs (images or features), each in shuffled batches of
    ``batch_size``; ``max_samples`` (if > 0) stops earlier, after that many training inputs in all.
    ``schedule="onecycle"`` ramps the learning rate up to ``lr`` and anneals it (OneCycleLR).
    ``max_cpu_seconds`` (if > 0) stops training that uses more CPU time (``time.process_time()`` of
    the process that trains: what the work costs, whatever else the machine runs) with
    :class:`TrainingTooSlow`; training that takes :data:`WALL_FACTOR` times that in wall-clock time
    is stopped too, with a message that says the machine may be busy.
    ``threads``: torch's intra-op threads while training and predicting. A fixed count makes the
    result the same on every machine (the sums of a convolution are split differently over
    threads), and one thread is the fastest on a busy machine: on 2 cores shared with two busy
    processes the reference trained in 9.9 s on 1 thread and 14.5 s on 2 (5.6 s and 4.3 s idle).
    """

    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.0
    batch_size: int = 128
    epochs: int = 3
    max_samples: int = 0
    schedule: str = "onecycle"
    seed: int = 0
    max_cpu_seconds: float = 0.0
    threads: int = 1
    #: each channel's (or feature's) mean and standard deviation (``[net] input_mean`` / ``input_std``);
    #: when empty, MNIST's for images, none for features
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    #: what the net returns (``[net] output``, :data:`cnngrade.lab.outputs.OUTPUTS`): ``log_softmax``,
    #: ``logits``, ``softmax``, ``sigmoid`` or ``logit``
    output: str = DEFAULT_OUTPUT
    #: the training loss (``[train] loss``), one of those that fit ``output``; None: the output's own
    loss: str | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"train.schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        self.kind.loss(self.loss)  # ValueError for an unknown output, or a loss that does not fit it
        if self.lr <= 0 or self.batch_size < 1 or self.epochs < 1 or self.max_samples < 0 or self.threads < 1:
            raise ValueError("train.lr must be > 0, batch_size, epochs and threads >= 1, max_samples >= 0")

    @classmethod
    def from_dict(cls, settings: dict) -> Recipe:
        unknown = set(settings) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown [train] settings: {', '.join(sorted(unknown))}")
        values = {k: tuple(v) if k in ("mean", "std") else v for k, v in settings.items()}
        return cls(**values)

    @property
    def kind(self) -> OutputKind:
        """What the net returns: its loss and its predicted labels."""
        return output_kind(self.output)

    @property
    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) per channel of images: the recipe's, else the dataset's (MNIST's)."""
        return self.mean or (MNIST_MEAN,), self.std or (MNIST_STD,)

    def normalise(self, inputs: torch.Tensor) -> torch.Tensor:
        """A batch as Net receives it, float32: uint8 images ``(B, H, W)`` or ``(B, C, H, W)`` as
        ``(B, C, H, W)``, x = (pixel / 255 - mean[c]) / std[c]; float features ``(B, F)``,
        x = (x - mean[f]) / std[f] (as they are without a mean and standard deviation)."""
        if inputs.dtype == torch.uint8:
            return normalize(inputs, *self.normalisation)
        x = inputs.to(torch.float32)
        if not self.mean:
            return x
        return (x - torch.tensor(self.mean, device=x.device)) / torch.tensor(self.std, device=x.device)

    def as_dict(self) -> dict:
        return asdict(self)

    def steps(self, n: int) -> int:
        """Optimizer steps for ``n`` training inputs."""
        per_epoch = -(-n // self.batch_size)
        total = per_epoch * self.epochs
        if self.max_samples:
            total = min(total, -(-self.max_samples // self.batch_size))
        return total


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``count`` inside the block, restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: Recipe,
    progress: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train ``model`` in place with ``recipe`` on uint8 ``images`` (N, H, W) (or float features
    (N, F)) and ``labels`` (N,).

    Minimises the loss of what the model returns (``recipe.output``; ``recipe.loss``, or the output's
    own: ``F.nll_loss`` of log-probabilities, ``F.binary_cross_entropy`` of a probability, ...).
    Returns the mean loss of each epoch; ``progress(step, total, loss)`` is called per step.
    """
    with torch_threads(recipe.threads):
        return _fit(model, images, labels, recipe, progress)


def _fit(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: Recipe,
    progress: Callable[[int, int, float], None] | None,
) -> list[float]:
    generator = torch.Generator().manual_seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    if recipe.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
    total = recipe.steps(len(images))
    criterion = recipe.kind.loss(recipe.loss)
    scheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=total)
        if recipe.schedule == "onecycle" else None
    )
    model.train()
    losses: list[float] = []
    step = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    while step < total:
        order = torch.randperm(len(images), generator=generator)
        epoch_loss, batches = 0.0, 0
        for start in range(0, len(images), recipe.batch_size):
            if step == total:
                break
            index = order[start:start + recipe.batch_size]
            x = recipe.normalise(images[index])
            optimizer.zero_grad()
            loss = criterion(model(x), labels[index])
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            if recipe.max_cpu_seconds:
                _check_time(recipe.max_cpu_seconds, time.process_time() - cpu_started,
                            time.perf_counter() - started, step, total)
            epoch_loss, batches = epoch_loss + loss.item(), batches + 1
            if progress is not None:
                progress(step, total, loss.item())
        losses.append(epoch_loss / max(batches, 1))
    return losses


def _check_time(budget: float, cpu: float, wall: float, step: int, total: int) -> None:
    """Stop training past ``budget`` CPU seconds, or past :data:`WALL_FACTOR` times it in wall-clock time."""
    if cpu > budget:
        raise TrainingTooSlow(
            f"Training Net with the harness's recipe used more than {budget:g} s of CPU time and was stopped at "
            f"step {step} of {total} (the reference Net needs a few seconds). Look for Python loops over the inputs or "
            "work repeated on every call in forward."
        )
    if wall > WALL_FACTOR * budget:
        raise TrainingTooSlow(
            f"Training Net with the harness's recipe was stopped at step {step} of {total} after {wall:.0f} s of "
            f"wall-clock time, although it had used only {cpu:.0f} s of CPU time: the machine seems too busy. "
            "Grade again when it is quieter."
        )


def predict(model: nn.Module, inputs: torch.Tensor, recipe: Recipe = Recipe(), batch_size: int = 1000) -> torch.Tensor:
    """Predicted labels, int64 (N,), for uint8 images (N, H, W) or (N, C, H, W) or float features (N, F),
    normalised as ``recipe`` says, in eval mode, on its threads: the argmax of the output, or 0 / 1 for
    a binary one (``recipe.output``: :meth:`cnngrade.lab.outputs.OutputKind.predict`)."""
    model.eval()
    out = []
    with torch.no_grad(), torch_threads(recipe.threads):
        for start in range(0, len(inputs), batch_size):
            out.append(recipe.kind.predict(model(recipe.normalise(inputs[start:start + batch_size]))))
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)
