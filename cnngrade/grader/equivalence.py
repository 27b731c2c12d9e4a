"""Whether a student's Net computes the lab's architecture, decided by the grader from outputs it chose.

The grader draws weights for the lab's layers (:class:`~cnngrade.grader.architecture.Architecture`),
loads them into the student's Net (its parameters matched to the lab's by order and shape, so any
attribute names, ``nn.Sequential`` and the like fit), runs it on inputs of its choosing through the
submission handle, and compares the output with its own computation on the same weights. Outputs of
several columns (one per class) are compared as log-probabilities (``log_softmax`` over dim 1 of what
Net returns, or the log of its probabilities): which of those output functions Net applies is the
output check's business, not this one's. A single column (a binary lab's probability or score) is
compared as it is, since its log-softmax is constant: a missing or extra sigmoid is a mistake here.

When they differ, :func:`locate` names where: the first layer with parameters whose input differs
from the lab's (from the Net's own report of its modules' inputs, which only words the message: the
verdict rests on the output), what the lab has before it, and which common mistake reproduces what
Net computes there (a missing ReLU, average pooling for max pooling, a ReLU on the output scores, ...).
In train mode the same holds for dropout (:func:`dropout_mistake`): the same seed draws the same masks.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnngrade.grader.architecture import DROPOUTS, Architecture, Layer
from cnngrade.submission.handle import ModuleCall, NetRun, ParameterInfo, Submission

#: the seed of the weights the grader loads into Net; the seeds of two eval passes and of a train pass
WEIGHTS_SEED, EVAL_SEEDS, DROPOUT_SEED = 1234, (1, 2), 7
#: tolerances for outputs that the same float32 operations should reproduce
RTOL, ATOL = 1e-4, 1e-5
#: marks a mistake in the output function, which the log-softmax check judges, not this one
OUTPUT_FUNCTION = "output function: "
#: how many mistakes :func:`judge` looks for, one after the other
MAX_MISTAKES = 4
#: dropout probabilities tried when Net's dropout differs from the lab's
OTHER_P = (0.1, 0.2, 0.25, 0.3, 0.4, 0.6, 0.75, 0.8)


@dataclass(frozen=True)
class Matching:
    """The student's parameter name for each of the lab's parameters, in the lab's order; or what
    does not fit."""

    names: tuple[str, ...]
    missing: tuple[tuple[int, ...], ...] = ()
    extra: tuple[ParameterInfo, ...] = ()

    @property
    def fits(self) -> bool:
        return not self.missing and not self.extra


def describe_mismatch(arch: Architecture, matching: Matching) -> str:
    """Why the lab's weights cannot be loaded into Net, in a sentence for the student."""
    layers = ", ".join(arch.layers[i].describe() for i in arch.parametrized())

    def listing(items: list[str]) -> str:
        return ", ".join(items[:6]) + (f" and {len(items) - 6} more" if len(items) > 6 else "")

    parts = []
    if matching.missing:
        parts.append("Not in Net: parameters of shape " + listing([str(s) for s in matching.missing]) + ".")
    if matching.extra:
        extra = [f"{p.name} {tuple(p.shape)}" for p in matching.extra]
        parts.append("In Net but not in the lab: " + listing(extra) + ".")
    return (f"Net's parameters do not fit the lab's layers ({layers}), so the grader cannot load its weights "
            "into Net. " + " ".join(parts))


def match_parameters(lab_shapes: Sequence[tuple[int, ...]], student: Sequence[ParameterInfo]) -> Matching:
    """Each lab parameter, in order, takes the first of the student's parameters (in their order) that
    has its shape and is not taken yet."""
    free = list(student)
    names, missing = [], []
    for shape in lab_shapes:
        found = next((p for p in free if tuple(p.shape) == tuple(shape)), None)
        if found is None:
            missing.append(tuple(shape))
        else:
            free.remove(found)
            names.append(found.name)
    return Matching(tuple(names), tuple(missing), tuple(free))


def as_log_probabilities(output: torch.Tensor) -> list[torch.Tensor]:
    """The log-probabilities ``output`` may stand for: ``log_softmax`` over dim 1 of it (logits or
    log-probabilities), and last the log of it where its rows are probabilities (what the lab's own
    output stands for, then: :func:`output_difference`). A single value per input
    (``(N,)`` or ``(N, 1)``: a binary output) stands for itself, as ``(N, 1)``: its log-softmax is 0
    whatever it is."""
    out = output.double()
    if out.dim() == 1 or (out.dim() == 2 and out.shape[1] == 1):
        return [out.reshape(len(out), 1)]
    candidates = [F.log_softmax(out, dim=1)] if out.dim() >= 2 else []
    if out.dim() >= 2 and (out >= 0).all() and ((out.sum(dim=1) - 1).abs() <= 1e-4).all():
        candidates.append(F.log_softmax(out.clamp_min(1e-300).log(), dim=1))
    return candidates


def largest_difference(seen: torch.Tensor, expected: torch.Tensor) -> float | None:
    """None when ``seen`` equals ``expected`` within the tolerances, else the largest difference
    (infinite for different shapes)."""
    if seen.shape != expected.shape:
        return float("inf")
    seen, expected = seen.double(), expected.double()
    if torch.allclose(seen, expected, rtol=RTOL, atol=ATOL, equal_nan=True):
        return None
    return float((seen - expected).abs().nan_to_num(float("inf")).max())


def output_difference(output: torch.Tensor, expected: torch.Tensor) -> float | None:
    """:func:`largest_difference` between Net's output, read as log-probabilities, and the lab's."""
    target = as_log_probabilities(expected)[-1]
    differences = [largest_difference(c, target) for c in as_log_probabilities(output)] or [float("inf")]
    return None if None in differences else min(d for d in differences if d is not None)


# --------------------------------------------------------------------------- where the two part


def first_call(calls: Sequence[ModuleCall], module: str) -> ModuleCall | None:
    return next((c for c in calls if c.name == module), None)


def module_of(parameter: str) -> str:
    """``conv1`` for ``conv1.weight``; ``features.0`` for ``features.0.bias``."""
    return parameter.rsplit(".", 1)[0]


#: the activations one may stand for another by mistake
ACTIVATIONS = ("relu", "sigmoid", "tanh")
#: the layers that may end a lab's Net as its output function
OUTPUT_FUNCTIONS = ("log_softmax", "softmax", "sigmoid")


def _segment_variants(arch: Architecture, start: int, stop: int) -> Iterator[tuple[str, Architecture]]:
    """Common mistakes in layers ``start`` to ``stop`` (exclusive), each as (what it is, the
    architecture with it): a layer left out, max and average pooling swapped, an extra ReLU, another
    activation for the lab's (tanh for a ReLU)."""
    where = arch.after(start)
    for i in range(start, stop):
        layer = arch.layers[i]
        if layer.kind in ("max_pool2d", "avg_pool2d"):
            other = "avg_pool2d" if layer.kind == "max_pool2d" else "max_pool2d"
            swapped = Layer(other, layer.options)
            yield f"{swapped.describe()}{where} where the lab has {layer.describe()}", arch.variant(i, swapped)
        if layer.kind not in ("flatten", *DROPOUTS):
            yield f"no {layer.describe()}{where}", arch.variant(i)
    for i in range(start, stop + 1):
        yield f"an extra ReLU{where}", arch.variant(i, Layer.of("relu"), insert=True)
    for i in range(start, stop):
        layer = arch.layers[i]
        for other in (Layer.of(kind) for kind in ACTIVATIONS if layer.kind in ACTIVATIONS and kind != layer.kind):
            yield f"a {other.describe()}{where} where the lab has a {layer.describe()}", arch.variant(i, other)


def _tail_variants(arch: Architecture, start: int) -> Iterator[tuple[str, Architecture]]:
    """Common mistakes after the last layer with parameters: an activation on the output scores,
    the output function over dim 0 or left out, then those of :func:`_segment_variants`."""
    last = len(arch.layers) - 1
    final = arch.layers[last]
    output = final if final.kind in OUTPUT_FUNCTIONS and last > max(arch.parametrized(), default=-1) else None
    where = last if output is not None else last + 1
    for kind in ACTIVATIONS:
        yield f"a {Layer.of(kind).describe()} on the output scores", arch.variant(where, Layer.of(kind), insert=True)
    if output is not None and "dim" in output.options:
        yield (OUTPUT_FUNCTION + f"{output.kind} over dim 0 (across the batch) where the lab takes it over dim 1",
               arch.variant(last, Layer(output.kind, {**output.options, "dim": 0})))
    if output is not None:
        yield f"no {output.describe()} at the output", arch.variant(last)
    yield from _segment_variants(arch, start, where)


@dataclass(frozen=True)
class Verdict:
    """Whether Net computes the lab's architecture in eval mode (``message`` None) or why not, and
    ``model``: an architecture that gives Net's eval output (the lab's, or the lab's with the mistake
    found), against which its dropout is judged; None where no such architecture was found."""

    message: str | None
    model: Architecture | None


def judge(arch: Architecture, weights: Sequence[torch.Tensor], x: torch.Tensor, runs: tuple[NetRun, NetRun],
          matching: Matching, seeds: tuple[int, int]) -> Verdict:
    """Net's eval-mode ``runs`` on ``x`` under ``seeds`` (the grader's ``weights`` loaded as ``matching``
    says) against the lab's computation. Mistakes are looked for one after the other (each found one
    applied to the lab's layers before the next is looked for), up to :data:`MAX_MISTAKES`."""
    run = runs[0]
    if not torch.isfinite(run.output).all():
        return Verdict("With the grader's weights Net's output has NaN or infinite values (see the check for finite "
                       "outputs), so it cannot be the lab's.", None)
    if not torch.equal(runs[0].output, runs[1].output):
        for variant in _dropout_left_on(arch):
            if output_difference(run.output, variant.run(weights, x, seed=seeds[0])[-1]) is None:
                return Verdict(None, arch)  # the lab's layers, a dropout left on in eval mode: the mode checks say so
        return Verdict("In eval mode Net's output changes from one pass to the next (see the check that eval mode "
                       "is deterministic), so it cannot be the lab's.", None)
    expected = arch.run(weights, x)[-1]
    if run.output.numel() != expected.numel() or run.output.shape[:1] != expected.shape[:1]:
        return Verdict(f"With the grader's weights, Net's output has shape {tuple(run.output.shape)}; the lab's Net "
                       f"gives {tuple(expected.shape)}.", None)
    output = run.output.reshape(expected.shape)
    model, mistakes, first = arch, [], ""
    for _ in range(MAX_MISTAKES):
        if output_difference(output, model.run(weights, x)[-1]) is None:
            break
        message, mistake, found = locate(model, weights, x, run, matching)
        first = first or message
        if found is None:
            return Verdict(_verdict_text(first if not mistakes else None, mistakes), None)
        mistakes.append(mistake)
        model = found
    else:
        return Verdict(_verdict_text(first, mistakes), None)
    if all(m.startswith(OUTPUT_FUNCTION) for m in mistakes):
        return Verdict(None, model)  # the lab's layers; their output function is the log-softmax check's business
    return Verdict(_verdict_text(first, mistakes), model)


def _verdict_text(located: str | None, mistakes: list[str]) -> str:
    """The architecture check's message: where Net parts from the lab's (``located``), or the mistakes found."""
    head = "With the grader's weights loaded into it, Net does not compute the lab's Net: "
    mistakes = [m.removeprefix(OUTPUT_FUNCTION) for m in mistakes]
    if len(mistakes) > 1:
        return head + "it seems to have " + "; and ".join(mistakes) + "."
    return head + (located or "")


def _dropout_left_on(arch: Architecture) -> Iterator[Architecture]:
    """The lab's layers with one of its dropouts, or all of them, left on in eval mode."""
    dropouts = [i for i, layer in enumerate(arch.layers) if layer.kind in DROPOUTS]
    for group in [[i] for i in dropouts] + ([dropouts] if len(dropouts) > 1 else []):
        variant = arch
        for i in group:
            layer = variant.layers[i]
            variant = variant.variant(i, Layer(layer.kind, {**layer.options, "always": True}))
        yield variant


#: each handle's verdicts by (architecture, matching, input): the architecture, dropout and speed checks
#: share one judgement (finding a mistake runs the lab's layers many times)
_judged: weakref.WeakKeyDictionary[Submission, dict[tuple, Verdict]] = weakref.WeakKeyDictionary()


def eval_verdict(submission: Submission, arch: Architecture, matching: Matching, x: torch.Tensor) -> Verdict:
    """:func:`judge` on two eval passes of Net over ``x`` with the grader's weights (``matching`` must
    miss none of the lab's parameters; Net's extra ones keep their initial values); once per handle,
    architecture, matching and input."""
    key = (repr(arch), matching, tuple(x.shape), x.numpy().tobytes())
    known = _judged.setdefault(submission, {})
    if key not in known:
        known[key] = _eval_verdict(submission, arch, matching, x)
    return known[key]


def _eval_verdict(submission: Submission, arch: Architecture, matching: Matching, x: torch.Tensor) -> Verdict:
    weights = arch.draw_weights(WEIGHTS_SEED)
    state = dict(zip(matching.names, weights, strict=True))
    runs = tuple(submission.run_with_state(state, x, seed=seed) for seed in EVAL_SEEDS)
    return judge(arch, weights, x, runs, matching, EVAL_SEEDS)


def dropout_verdict(submission: Submission, model: Architecture, matching: Matching, x: torch.Tensor,
                    modules: Sequence[tuple[str, str]]) -> str | None:
    """None if Net's train-mode output over ``x`` is ``model``'s (the same dropout masks drawn from the
    same seed), else why not; ``modules``: Net's (name, kind) pairs, for dropout modules never used."""
    weights = model.draw_weights(WEIGHTS_SEED)
    run = submission.run_with_state(dict(zip(matching.names, weights, strict=True)), x, train=True, seed=DROPOUT_SEED)
    if output_difference(run.output, model.run(weights, x, train=True, seed=DROPOUT_SEED)[-1]) is None:
        return None
    mistake = dropout_mistake(model, weights, x, run.output, DROPOUT_SEED)
    unused = unused_dropouts(modules, run.calls)
    return (f"In train mode Net's dropout is not the lab's ({model.describe_dropout()}, and no other). "
            + (f"Net seems to have {mistake}." if mistake else "Check where Net applies dropout, of which kind "
               "(nn.Dropout2d zeroes whole channels) and with which p.")
            + (f" {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} defined in __init__ but never used in "
               "forward." if unused else ""))


def locate(arch: Architecture, weights: Sequence[torch.Tensor], x: torch.Tensor, run: NetRun,
           matching: Matching) -> tuple[str, str, Architecture | None]:
    """Where Net's eval-mode computation first leaves ``arch``'s, in a sentence or two (``run``: Net's
    run on ``x`` with ``weights`` loaded as ``matching`` says), the mistake that explains it, and
    ``arch`` with that mistake made (None if no common mistake explains it)."""
    stages = arch.run(weights, x)
    parametrized = arch.parametrized()
    offsets = [0]
    for i in parametrized:
        offsets.append(offsets[-1] + len(arch.layers[i].parameter_shapes()))
    previous = -1  # the last layer known to agree: its output is stages[previous + 1]
    for position, layer_index in enumerate(parametrized):
        module = module_of(matching.names[offsets[position]])
        call = first_call(run.calls, module)
        if call is None or call.input is None or call.output is None:
            held = arch.layers[layer_index].describe()
            return (f"Net does not call its module {module} (which holds the lab's {held}) as a module, so the "
                    "grader cannot tell where its computation parts from the lab's.", "", None)
        if largest_difference(call.input, stages[layer_index]) is not None:
            return _explain(arch, stages, previous, layer_index, call.input, f"the input of {module}")
        if largest_difference(call.output, stages[layer_index + 1]) is not None:
            return (f"{module} gives other values than the lab's {arch.layers[layer_index].describe()} for the same "
                    "input and weights: check its stride, padding and bias.", "", None)
        previous = layer_index
    return _explain(arch, stages, previous, len(arch.layers), run.output, "Net's output")


def _explain(arch: Architecture, stages: list[torch.Tensor], previous: int, stop: int, seen: torch.Tensor,
             what: str) -> tuple[str, str, Architecture | None]:
    """``what`` (``seen``) differs from ``arch``'s value after its layers ``previous + 1`` to ``stop``
    (none of which has parameters): which common mistake in those layers gives ``seen``."""
    start = previous + 1
    agreed = (f"it agrees with the lab up to the {arch.layers[previous].describe()}"
              if previous >= 0 else "its first layer already differs from the lab's")
    lab = arch.describe(start, stop)
    final = stop == len(arch.layers)
    compare = output_difference if final else largest_difference
    variants = _tail_variants(arch, start) if final else _segment_variants(arch, start, stop)
    for mistake, variant in variants:
        value = stages[start]
        try:
            for layer in variant.layers[start:stop + len(variant.layers) - len(arch.layers)]:
                value = layer.apply(value, (), train=False)
        except RuntimeError:  # the mistake does not even give the right shape
            continue
        if compare(seen, value) is None:
            shown = mistake.removeprefix(OUTPUT_FUNCTION)
            return f"{agreed}; then the lab has {lab}, and Net seems to have {shown}.", mistake, variant
    difference = compare(seen, stages[stop])
    return (f"{agreed}; then the lab has {lab}, but {what} differs from the lab's (largest difference "
            f"{difference:.3g}).", "", None)


def dropout_mistake(model: Architecture, weights: Sequence[torch.Tensor], x: torch.Tensor, output: torch.Tensor,
                    seed: int) -> str | None:
    """The dropout mistake that, made in ``model`` (the lab's layers, or Net's as :func:`judge` found
    them), reproduces Net's train-mode ``output`` (drawn under ``seed``), if one does."""
    dropouts = [i for i, layer in enumerate(model.layers) if layer.kind in DROPOUTS]
    last = max(model.parametrized(), default=len(model.layers) - 1)
    after = model.after
    candidates: list[tuple[str, Architecture]] = []
    for i in dropouts:
        layer = model.layers[i]
        candidates.append((f"no {layer.describe()}{after(i)}", model.variant(i)))
        candidates.append((f"the {layer.describe()} on the output scores instead of{after(i)}",
                           model.variant(i).variant(last, layer, insert=True)))
        other = Layer("dropout" if layer.kind == "dropout2d" else "dropout2d", layer.options)
        kind = f"{other.describe()}{after(i)} where the lab has {layer.describe()}"
        candidates.append((kind, model.variant(i, other)))
        for p in OTHER_P:
            other_p = f"dropout probability p={p:g}{after(i)} where the lab has p={layer.options['p']:g}"
            candidates.append((other_p, model.variant(i, Layer(layer.kind, {**layer.options, "p": p}))))
    if dropouts:
        none = model
        for i in reversed(dropouts):
            none = none.variant(i)
        candidates.append(("no dropout at all", none))
    candidates.append(("a dropout on the output scores", model.variant(last + 1, Layer.of("dropout"), insert=True)))
    for mistake, variant in candidates:
        if output_difference(output, variant.run(weights, x, train=True, seed=seed)[-1]) is None:
            return mistake
    return None


def unused_dropouts(modules: Sequence[tuple[str, str]], calls: Sequence[ModuleCall]) -> list[str]:
    """The dropout modules (``(name, kind)`` pairs of Net's description) that a forward pass never called."""
    called = {c.name for c in calls}
    return [name for name, kind in modules if kind == "dropout" and name not in called]
