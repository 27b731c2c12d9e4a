"""What the grader can prove about Net's parameters from outputs of calls it chose.

A submission describes its own parameters (names and shapes, :class:`~cnngrade.submission.handle.ParameterInfo`);
under the isolated backend that description is the child's word. The grader checks it against
outputs: it loads weights of its own drawing into every parameter the description names
(:func:`draw_state`), then

* **use** (:func:`examine`): redraws one parameter at a time; a parameter whose new values leave Net's
  eval-mode output unchanged is not used by ``forward``;
* **nothing else**: builds Net() under another seed with the same weights loaded; an output that changes
  depends on something Net() draws at random that is not a parameter (a tensor attribute that is not an
  ``nn.Parameter``);
* **dropout**: compares two train-mode passes under different seeds; dropout makes them differ;
* **gradients** (:func:`gradient_mismatches`): moves each parameter ``p`` by ``eps * g/|g|`` along the
  gradient ``g`` Net reported for it; by Taylor, ``(L(p + eps d) - L(p)) / eps = g . d = |g|`` (up to
  ``O(eps)``) for ``L = sum(Net(x) * grad_output)``. A reported gradient that is not Net's (a zero, a forged or
  partial one) does not move ``L`` as it claims.

A lying child can make these consistent only by computing with the parameters it names, which is the
work the checks ask for.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cnngrade.grader.feedback import fail
from cnngrade.submission.handle import ParameterInfo, Submission

#: seeds of the weights the grader loads, of Net()'s other build, and of the train-mode passes
STATE_SEED, OTHER_BUILD_SEED, TRAIN_SEEDS = 4321, 1, (11, 12)
#: the relative step of the finite differences, and how far they may be from the reported gradient
#: (float32 rounding, curvature and ReLU / max-pooling kinks crossed by the step: up to 5.5% on the lab's Net)
STEP, GRADIENT_TOLERANCE = 1e-3, 0.25
#: a gradient smaller than this fraction of the largest one is float32 rounding, not a gradient: finite
#: differences cannot tell it from zero (on the lab's Net the smallest real one is about 5% of the largest)
GRADIENT_FLOOR = 1e-4


def draw_state(parameters: Sequence[ParameterInfo], seed: int) -> dict[str, torch.Tensor]:
    """Weights for ``parameters``: uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (torch's default
    initialisation scale), ``fan_in`` the product of a shape's dimensions after the first (a bias: its length)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for p in parameters:
        fan_in = math.prod(p.shape[1:]) if len(p.shape) > 1 else max(math.prod(p.shape), 1)
        state[p.name] = (torch.rand(p.shape, generator=generator) * 2 - 1) / math.sqrt(fan_in)
    return state


@dataclass(frozen=True)
class Evidence:
    """What outputs showed about Net's parameters (see the module's docstring)."""

    #: parameters whose values do not change the output
    unused: tuple[str, ...]
    #: the output depends on more than the parameters (what Net() draws at random)
    hidden_state: bool
    #: two train-mode passes under different seeds differ (dropout)
    stochastic_in_train: bool

    def used(self, parameters: Sequence[ParameterInfo]) -> list[ParameterInfo]:
        return [p for p in parameters if p.name not in self.unused]


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two outputs are equal, NaN where the other is NaN."""
    return a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())


#: each handle's evidence by (parameters, input): the layer, count and gradient checks share one examination
_examined: weakref.WeakKeyDictionary[Submission, dict[tuple, Evidence]] = weakref.WeakKeyDictionary()


def examine(submission: Submission, parameters: Sequence[ParameterInfo], x: torch.Tensor) -> Evidence:
    """:class:`Evidence` from ``len(parameters) + 4`` forward passes of Net over ``x`` with the grader's weights
    (once per handle, parameters and input)."""
    key = (tuple(parameters), tuple(x.shape), x.numpy().tobytes())
    known = _examined.setdefault(submission, {})
    if key not in known:
        known[key] = _examine(submission, parameters, x)
    return known[key]


def _examine(submission: Submission, parameters: Sequence[ParameterInfo], x: torch.Tensor) -> Evidence:
    state = draw_state(parameters, STATE_SEED)

    def output(weights: dict[str, torch.Tensor], **options: object) -> torch.Tensor:
        return submission.run_with_state(weights, x, record=False, **options).output

    base = output(state)
    if not torch.isfinite(base).all():
        fail("With the grader's weights Net's output has NaN or infinite values (see the check for finite "
             "outputs), so the grader cannot see which parameters and layers it uses.")
    unused = []
    for i, p in enumerate(parameters):
        other = draw_state([p], STATE_SEED + 1 + i)
        if same(output({**state, **other}), base):
            unused.append(p.name)
    hidden = not same(output(state, build_seed=OTHER_BUILD_SEED), base)
    first, second = (output(state, train=True, seed=s) for s in TRAIN_SEEDS)
    return Evidence(tuple(unused), hidden, not same(first, second))


def missing_gradients(gradients: dict[str, torch.Tensor | None], parameters: Sequence[ParameterInfo]) -> list[str]:
    """The parameters that get no gradient: none reported, or one under :data:`GRADIENT_FLOOR` times the
    largest gradient's norm."""
    norms = {name: float(g.double().norm()) for name, g in gradients.items() if g is not None}
    floor = GRADIENT_FLOOR * max((n for n in norms.values() if math.isfinite(n)), default=0.0)
    return [p.name for p in parameters if norms.get(p.name, 0.0) <= floor]


def gradient_mismatches(submission: Submission, state: dict[str, torch.Tensor], x: torch.Tensor,
                        grad_output: torch.Tensor, gradients: dict[str, torch.Tensor | None],
                        seed: int) -> list[str]:
    """The parameters whose reported gradient ``gradients[name]`` (finite, of ``sum(Net(x) * grad_output)``
    in train mode under ``seed``, with ``state`` loaded) does not match finite differences of Net's
    output along it, each as ``name (moves the sum by A, the gradient says B)``."""

    def loss(weights: dict[str, torch.Tensor]) -> float:
        out = submission.run_with_state(weights, x, train=True, seed=seed, record=False).output
        return float((out.double() * grad_output.double()).sum()) if out.shape == grad_output.shape else math.nan

    problems, base = [], loss(state)
    for name, g in gradients.items():
        if g is None or name not in state or g.shape != state[name].shape or not g.any():
            continue
        norm = float(g.double().norm())
        step = STEP * max(1.0, float(state[name].norm()))
        direction = (g.double() / norm).to(state[name].dtype)
        moved = (loss({**state, name: state[name] + step * direction}) - base) / step
        if not abs(moved - norm) <= GRADIENT_TOLERANCE * norm:
            problems.append(f"{name} (moving it along its gradient changes the output's weighted sum at rate "
                            f"{moved:.3g}; the gradient says {norm:.3g})")
    return problems
