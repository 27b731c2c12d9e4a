"""Operations on a live student ``Net``, returning plain data.

These run wherever the student code runs (in this process, or in the sandboxed child) and
turn module objects into the dataclasses of :mod:`cnngrade.submission.handle`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import torch
from torch import nn

from cnngrade.submission.errors import StudentCodeError, WrongReturn, describe_value
from cnngrade.submission.handle import ModuleCall, ModuleInfo, NetDescription, NetRun, ParameterInfo

_KINDS: tuple[tuple[type[nn.Module] | tuple[type[nn.Module], ...], str], ...] = (
    (nn.Conv2d, "conv2d"),
    (nn.Linear, "linear"),
    (nn.modules.dropout._DropoutNd, "dropout"),
    (nn.ReLU, "relu"),
    ((nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd), "pool"),
    ((nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm), "norm"),
)


def kind_of(module: nn.Module) -> str:
    """The layer family of ``module``: ``conv2d``, ``linear``, ``dropout``, ... (see ModuleInfo)."""
    for types, kind in _KINDS:
        if isinstance(module, types):
            return kind
    return "container" if any(True for _ in module.children()) else "other"


def describe(net: nn.Module) -> NetDescription:
    """Every submodule (except the root) and every parameter of ``net``."""
    modules = tuple(
        ModuleInfo(
            name=name,
            type=type(module).__name__,
            kind=kind_of(module),
            parameters=sum(p.numel() for p in module.parameters(recurse=False)),
            summary=repr(module) if not any(True for _ in module.children()) else type(module).__name__,
        )
        for name, module in net.named_modules()
        if name
    )
    parameters = tuple(
        ParameterInfo(name, tuple(p.shape), p.requires_grad) for name, p in net.named_parameters()
    )
    return NetDescription(modules, parameters)


def plain_tensor(value: torch.Tensor) -> torch.Tensor:
    """A detached copy of ``value`` of the base tensor class."""
    return value.detach().as_subclass(torch.Tensor).clone()


def as_output_tensor(value: object) -> torch.Tensor:
    """``value`` as a plain detached tensor, or :class:`WrongReturn` if it is not a tensor."""
    if not isinstance(value, torch.Tensor):
        raise WrongReturn(
            f"Net.forward returned {describe_value(value)}; it must return one tensor of "
            "log-probabilities with shape (N, 10)."
        )
    return value.detach().as_subclass(torch.Tensor).clone()


def forward(net: nn.Module, x: torch.Tensor, *, train: bool, seed: int) -> torch.Tensor:
    """``net(x)`` in train or eval mode under ``torch.manual_seed(seed)``, without gradients."""
    net.train(train)
    torch.manual_seed(seed)
    with torch.no_grad():
        return as_output_tensor(net(x))


def set_parameters(net: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` into the parameters of ``net`` it names (with their shapes); the others keep
    their values."""
    parameters = dict(net.named_parameters())
    problems = [f"{name} is not a parameter of Net" for name in state if name not in parameters]
    problems += [f"{name} has shape {tuple(parameters[name].shape)}, not {tuple(value.shape)}"
                 for name, value in state.items() if name in parameters and parameters[name].shape != value.shape]
    if problems:
        raise WrongReturn("The grader's weights do not fit your Net: " + "; ".join(problems) + ".")
    with torch.no_grad():
        for name, value in state.items():
            parameters[name].copy_(value)


def run(net: nn.Module, x: torch.Tensor, *, train: bool, seed: int, record: bool = True) -> NetRun:
    """``net(x)`` in train or eval mode under ``torch.manual_seed(seed)``, without gradients; with
    ``record``, each leaf submodule's first tensor input and tensor output too."""
    calls: list[ModuleCall] = []

    def hook(name: str):
        def called(module: nn.Module, inputs: tuple, output: object) -> None:
            first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            calls.append(ModuleCall(name, kind_of(module), None if first is None else plain_tensor(first),
                                    plain_tensor(output) if isinstance(output, torch.Tensor) else None))

        return called

    leaves = [(n, m) for n, m in net.named_modules() if n and not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook(n)) for n, m in leaves] if record else []
    try:
        output = forward(net, x, train=train, seed=seed)
    finally:
        for h in handles:
            h.remove()
    return NetRun(output, tuple(calls))


def gradients(
    net: nn.Module, x: torch.Tensor, grad_output: torch.Tensor, *, seed: int
) -> dict[str, torch.Tensor | None]:
    """Each parameter's gradient of ``sum(net(x) * grad_output)`` in train mode."""
    net.train()
    for p in net.parameters():
        p.grad = None
    torch.manual_seed(seed)
    output = net(x)
    plain = as_output_tensor(output)
    if plain.shape != grad_output.shape:
        raise WrongReturn(
            f"Net.forward returned shape {tuple(plain.shape)} for a batch of {x.shape[0]} images; "
            f"expected {tuple(grad_output.shape)}."
        )
    if output.requires_grad:
        output.backward(grad_output)
    return {
        name: None if p.grad is None else p.grad.detach().clone() for name, p in net.named_parameters()
    }


def state_mismatches(net: nn.Module, state: object) -> list[str]:
    """Why ``state`` cannot be loaded into ``net`` (missing, unexpected, or mis-shaped entries)."""
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        return [f"it holds {describe_value(state)}, not a state_dict (a dict of parameter names to tensors)"]
    expected = net.state_dict()
    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(unexpected))
    for key in expected.keys() & state.keys():
        value = state[key]
        if not isinstance(value, torch.Tensor):
            problems.append(f"{key} is {describe_value(value)}, not a tensor")
        elif value.shape != expected[key].shape:
            problems.append(f"{key} has shape {tuple(value.shape)}, Net's has {tuple(expected[key].shape)}")
    return problems


def load_state(net: nn.Module, state: dict) -> None:
    """``net.load_state_dict(state)``, or :class:`WrongReturn` listing every mismatch."""
    problems = state_mismatches(net, state)
    if problems:
        raise WrongReturn("model.pt does not fit your Net: " + "; ".join(problems) + ".")
    net.load_state_dict(state)


@contextmanager
def cuda_unavailable() -> Iterator[None]:
    """CUDA reports unavailable, and moving a tensor or module to it raises, as on a CPU-only machine."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise StudentCodeError(
            "Net uses CUDA although it is unavailable (.cuda() or device='cuda' in Net). Leave device "
            "placement to the caller: it moves the model with .to(device)."
        )

    with mock.patch("torch.cuda.is_available", return_value=False), \
            mock.patch("torch.cuda.device_count", return_value=0), \
            mock.patch.object(torch.Tensor, "cuda", refuse), mock.patch.object(nn.Module, "cuda", refuse):
        yield


def forward_on(net: nn.Module, device: str, x: torch.Tensor) -> tuple[torch.Tensor, list[str], str]:
    """Move ``net`` to ``device``; eval output (on the CPU), names left behind, output's device."""
    net.to(device)
    target = torch.device(device).type
    stray = [name for name, t in [*net.named_parameters(), *net.named_buffers()] if t.device.type != target]
    net.eval()
    with torch.no_grad():
        output = net(x.to(device))
    plain = output if isinstance(output, torch.Tensor) else None
    if plain is None:
        as_output_tensor(output)
    device_of_output = str(plain.device)
    if plain.device.type == "meta":
        return torch.empty(plain.shape), stray, device_of_output
    return as_output_tensor(plain.cpu()), stray, device_of_output


def data_parallel_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Eval output (on the CPU) of ``nn.DataParallel`` over every GPU, ``net`` moved to the first (as
    DataParallel requires); on a machine without CUDA, DataParallel calls ``net`` itself."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    wrapped = nn.DataParallel(net.to(device))
    return forward(wrapped, x.to(device), train=False, seed=0).cpu()

