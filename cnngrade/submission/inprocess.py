"""The in-process backend: student code imported into the grading process.

Fast and easy to debug (``pytest --pdb`` stops inside student code). It trusts the
submission: use the isolated backend for code you did not write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from cnngrade.lab.parts import Parts
from cnngrade.submission import net_probe, op_trace
from cnngrade.submission.divergence import DivergenceWatch
from cnngrade.submission.errors import NotImplementedYet, StudentCodeError, SubmissionError
from cnngrade.submission.handle import NetDescription, NetRun, OpGraph, Submission, Training
from cnngrade.submission.layout import file_for
from cnngrade.submission.loading import LoadedModule, load_module
from cnngrade.submission.plain import to_plain
from cnngrade.submission.sources import read_source
from cnngrade.submission.training import Recipe, fit, predict, torch_threads
from cnngrade.submission.warning_origin import submission_code

T = TypeVar("T")


class InProcessSubmission(Submission):
    """A :class:`~cnngrade.submission.handle.Submission` whose code runs in this process."""

    def __init__(self, path: Path, *, definitions_only: bool = True, parts: Parts | None = None) -> None:
        super().__init__(path, parts)
        self.definitions_only = definitions_only
        self._modules: dict[Path, LoadedModule] = {}
        self._net: nn.Module | None = None

    def _module(self, part: str) -> LoadedModule:
        """The loaded file holding ``part``, definitions-only for the names of every part it holds
        (an answers part: all its UPPER_CASE constants), loaded once."""
        file = file_for(self.path, part, self.parts)
        if file not in self._modules:
            held = [p for p in self.parts if self._file_or_none(p) == file]
            with submission_code():
                self._modules[file] = load_module(
                    read_source(file), [n for p in held for n in self.parts.names(p)],
                    definitions_only=self.definitions_only, constants=self.parts.answers_part in held,
                )
        return self._modules[file]

    @property
    def _net_part(self) -> str:
        part = self.parts.net_part
        assert part is not None  # Parts checks it
        return part

    def _file_or_none(self, part: str) -> Path | None:
        """Like :func:`cnngrade.submission.layout.file_for`, but ``None`` for a missing part."""
        try:
            return file_for(self.path, part, self.parts)
        except SubmissionError:
            return None

    def _get(self, name: str) -> tuple[LoadedModule, Any]:
        module = self._module(self.parts.part_of(name))
        return module, module.get(name)

    def _run(self, what: str, module: LoadedModule, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call student code, turning its exceptions into feedback; the warnings it raises are its own
        (:func:`~cnngrade.submission.warning_origin.submission_code`)."""
        try:
            with submission_code():
                return fn(*args, **kwargs)
        except SubmissionError:
            raise
        except NotImplementedError as exc:
            raise NotImplementedYet(
                f"{what} is not implemented yet ({module.location(exc)}). Replace the "
                "`raise NotImplementedError` under the TODO with your code."
            ) from None
        except (Exception, SystemExit) as exc:
            raise StudentCodeError(f"{what} raised {module.explain(exc)}", type(exc).__name__,
                                   module.missing_module(exc)) from None

    @property
    def net(self) -> nn.Module:
        if self._net is None:
            self.build_net()
        assert self._net is not None
        return self._net

    def build_net(self, seed: int = 0, state: dict[str, torch.Tensor] | None = None) -> NetDescription:
        _, self._net = self._net_with_state(state or {}, seed)
        return net_probe.describe(self._net)

    def forward(self, x: torch.Tensor, *, train: bool = False, seed: int = 0, threads: int = 0) -> torch.Tensor:
        module = self._module(self._net_part)
        what = f"{self.parts.net_class}.forward on a batch of shape {tuple(x.shape)}"
        with torch_threads(threads) if threads else contextlib.nullcontext():
            return self._run(what, module, net_probe.forward, self.net, x.clone(), train=train, seed=seed)

    def _net_with_state(self, state: dict[str, torch.Tensor], build_seed: int) -> tuple[LoadedModule, nn.Module]:
        """A fresh network (the lab's class) built under ``build_seed`` with the parameters ``state`` names set."""
        module, cls = self._get(self.parts.net_class)
        torch.manual_seed(build_seed)
        net = self._run(f"{self.parts.net_class}()", module, cls)
        if not isinstance(net, nn.Module):
            raise StudentCodeError(f"{self.parts.net_class}() built {type(net).__name__}, not a torch.nn.Module.")
        net_probe.set_parameters(net, state)
        return module, net

    def run_with_state(
        self, state: dict[str, torch.Tensor], x: torch.Tensor, *, train: bool = False, seed: int = 0,
        build_seed: int = 0, record: bool = True,
    ) -> NetRun:
        module, net = self._net_with_state(state, build_seed)
        what = f"{self.parts.net_class}.forward on a batch of shape {tuple(x.shape)}"
        return self._run(what, module, net_probe.run, net, x.clone(), train=train, seed=seed, record=record)

    def gradients(
        self, state: dict[str, torch.Tensor], x: torch.Tensor, grad_output: torch.Tensor, *, seed: int = 0
    ) -> dict[str, torch.Tensor | None]:
        module, net = self._net_with_state(state, 0)
        what = f"Backpropagating through {self.parts.net_class} on a batch of shape {tuple(x.shape)}"
        return self._run(what, module, net_probe.gradients, net, x.clone(), grad_output, seed=seed)

    def train_and_predict(
        self, train_images: torch.Tensor, train_labels: torch.Tensor, recipe: dict, test_images: torch.Tensor
    ) -> Training:
        settings = Recipe.from_dict(recipe)
        self.build_net(seed=settings.seed)
        module = self._module(self._net_part)
        what = f"Training {self.parts.net_class} with the harness's recipe ({settings.optimizer}, lr {settings.lr:g})"
        with DivergenceWatch(self.net) as watch:
            self._run(what, module, fit, self.net, train_images, train_labels, settings, watch.progress)
        predictions = self._run(f"{self.parts.net_class}.forward on the test set", module, predict, self.net,
                                test_images, settings)
        return Training(predictions, watch.found)

    def predict_with_state(self, state: dict[str, torch.Tensor], images: torch.Tensor, recipe: dict) -> torch.Tensor:
        settings = Recipe.from_dict(recipe)
        self.build_net()
        module = self._module(self._net_part)
        self._run(f"Loading model.pt into {self.parts.net_class}", module, net_probe.load_state, self.net, state)
        return self._run(f"{self.parts.net_class}.forward on the test set", module, predict, self.net, images,
                         settings)

    def cpu_only_forward(self, x: torch.Tensor) -> torch.Tensor:
        module, cls = self._get(self.parts.net_class)
        with net_probe.cuda_unavailable():
            torch.manual_seed(0)
            net = self._run(f"{self.parts.net_class}() on a machine without CUDA", module, cls)
            return self._run(f"{self.parts.net_class}.forward on a machine without CUDA", module, net_probe.forward,
                             net, x.clone(),
                             train=False, seed=0)

    def forward_on(self, device: str, x: torch.Tensor) -> tuple[torch.Tensor, list[str], str]:
        module = self._module(self._net_part)
        what = f"{self.parts.net_class}.to({device!r}) and forward on {device}"
        return self._run(what, module, net_probe.forward_on, self.net, device, x.clone())

    def data_parallel_forward(self, x: torch.Tensor) -> torch.Tensor:
        module = self._module(self._net_part)
        return self._run(f"nn.DataParallel({self.parts.net_class}()) forward", module,
                         net_probe.data_parallel_forward, self.net,
                         x.clone())

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        module, fn = self._get(name)
        what = f"{name}({format_arguments(args, kwargs)})"
        return to_plain(self._run(what, module, fn, *args, **kwargs), f"The result of {what}")

    def constant(self, name: str) -> Any:
        _, value = self._get(name)
        return to_plain(value, name)

    def op_graph(self, name: str, *args: Any, **kwargs: Any) -> OpGraph:
        module, fn = self._get(name)
        return self._run(f"{name}({format_arguments(args, kwargs)})", module, op_trace.trace_call, fn, args, kwargs)


def format_arguments(args: tuple, kwargs: dict) -> str:
    """``x=<tensor of shape (1, 1, 4, 4)>, 2`` style description of call arguments."""
    def show(value: Any) -> str:
        if isinstance(value, torch.Tensor):
            return f"<{value.dtype} tensor of shape {tuple(value.shape)}>"
        return repr(value)
    return ", ".join([*(show(a) for a in args), *(f"{k}={show(v)}" for k, v in kwargs.items())])
