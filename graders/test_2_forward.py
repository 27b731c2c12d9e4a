"""Forward pass of the lab's Net: shape, what it returns (the lab's ``[net] output``), modes, batch
independence, dropout, gradients."""

from __future__ import annotations

import pytest
import torch

from cnngrade.grader.architecture import DROPOUTS, Architecture
from cnngrade.grader.equivalence import dropout_verdict, eval_verdict, match_parameters, module_of
from cnngrade.grader.feedback import expect, fail
from cnngrade.grader.inputs import input_noun, inputs_text
from cnngrade.grader.parameters import STATE_SEED, draw_state, examine, gradient_mismatches, missing_gradients
from cnngrade.lab.outputs import lab_output

#: the seed the gradients (dropout masks, the weights of the output's sum) are drawn with
GRADIENT_SEED = 0
#: how far a row's sum of probabilities (or its logsumexp of log-probabilities) may be from 1 (0)
TOLERANCE = 1e-4
#: how much larger than the others the binary output checks' second batch's inputs are
SCALE = 10.0


def batch_size(lab) -> int:
    return lab.setting("net.batch_sizes")[-1]


def checked_output(submission, lab, x: torch.Tensor, *, train: bool = False, seed: int = 0) -> torch.Tensor:
    """The net's output for ``x``, failing the check unless its shape is one the lab's output kind
    accepts: (N, classes), or (N, 1) or (N,) for a binary lab."""
    out = submission.forward(x, train=train, seed=seed)
    kind, classes = lab_output(lab), lab.setting("net.classes")
    shapes = kind.shapes(x.shape[0], classes)
    if tuple(out.shape) not in shapes:
        each = "one score per class for each" if not kind.binary else f"{kind.returns} for each"
        fail(
            f"For a batch of {inputs_text(lab, x.shape[0])} Net's output has shape {tuple(out.shape)}; expected "
            f"{' or '.join(map(str, shapes))}: {each} {input_noun(lab)}."
        )
    return out


def finite_output(submission, lab, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """Like :func:`checked_output`, also failing on NaN or infinite values."""
    out = checked_output(submission, lab, x, **kwargs)
    bad = ~torch.isfinite(out.reshape(len(out), -1)).all(dim=1)
    if bad.any():
        kinds = " and ".join(k for k, m in (("NaN", out.isnan()), ("infinite values", out.isinf())) if m.any())
        mode = "train" if kwargs.get("train") else "eval"
        fail(
            f"Net's output contains {kinds} for {int(bad.sum())} of {inputs_text(lab, x.shape[0])} ({mode} mode). "
            "Look for a log of zero or a negative number, a division by zero, or an overflow in forward."
        )
    return out


@pytest.mark.points(5)
def test_forward_returns_tensor(submission, lab, images):
    """forward returns one tensor"""
    submission.build_net()
    submission.forward(images(batch_size(lab)))


@pytest.mark.points(10)
def test_output_shape(submission, lab, images):
    """Output has shape (N, {classes}) for batches of {batch_sizes} {inputs}"""
    submission.build_net()
    for n in lab.setting("net.batch_sizes"):
        checked_output(submission, lab, images(n))


@pytest.mark.points(5)
def test_finite_outputs(submission, lab, images):
    """Output has no NaN or infinite values, in eval and train mode"""
    submission.build_net()
    x = images(batch_size(lab))
    finite_output(submission, lab, x)
    finite_output(submission, lab, x, train=True)


def log_probabilities(out: torch.Tensor, dim: int) -> bool:
    """Whether ``out`` is log_softmax over ``dim``: each logsumexp over it is 0, every value <= 0."""
    return bool(out.logsumexp(dim=dim).abs().max() <= TOLERANCE and out.max() <= 1e-6)


def probabilities(out: torch.Tensor, dim: int) -> bool:
    """Whether ``out`` is softmax over ``dim``: values in [0, 1], each sum over it 1."""
    return bool((out >= 0).all() and (out <= 1).all() and (out.sum(dim=dim) - 1).abs().max() <= TOLERANCE)


def across(lab, dim: int) -> str:
    """``across the images of the batch`` (dim 0), ``across the 10 classes`` (dim 1)."""
    if dim == 0:
        return f"across the {input_noun(lab)}s of the batch"
    return f"across the {lab.setting('net.classes')} classes"


def binary_outputs(submission, lab, images) -> torch.Tensor:
    """A binary Net's outputs, float64 (2N,), for a batch of N inputs and for the same inputs times
    :data:`SCALE`: a probability stays in [0, 1] whatever the input, a raw score grows with it."""
    x = images(batch_size(lab))
    return torch.cat([finite_output(submission, lab, v).double().reshape(-1) for v in (x, x * SCALE)])


@pytest.mark.points(10)
@pytest.mark.output("log_softmax")
def test_log_softmax(submission, lab, images):
    """Output is log-softmax over the {classes} classes (each row's logsumexp is 0, values <= 0)"""
    submission.build_net()
    out = finite_output(submission, lab, images(batch_size(lab))).double()
    row_lse = out.logsumexp(dim=1)
    if log_probabilities(out, 1):
        return
    if probabilities(out, 1):
        fail(
            "Net's output looks like softmax probabilities (each row sums to 1); the lab expects "
            "log-probabilities for F.nll_loss: return F.log_softmax(x, dim=1)."
        )
    if out.logsumexp(dim=0).abs().max() <= TOLERANCE:
        fail(f"Net's output is log_softmax over dim 0, {across(lab, 0)}; it must be over dim 1, {across(lab, 1)}: "
             "F.log_softmax(x, dim=1).")
    fail(
        f"Net's output looks like raw scores (logits): each row's logsumexp should be 0 but ranges "
        f"from {row_lse.min():.3g} to {row_lse.max():.3g}, and the largest value is {out.max():.3g} "
        "(log-probabilities are <= 0). Return F.log_softmax(x, dim=1)."
    )


@pytest.mark.points(10)
@pytest.mark.output("logits")
def test_logits(submission, lab, images):
    """Output is raw class scores (logits) for cross-entropy, not passed through softmax or log-softmax"""
    submission.build_net()
    out = finite_output(submission, lab, images(batch_size(lab))).double()
    for dim in (1, 0):
        where = f"over dim {dim}, {across(lab, dim)}"
        if log_probabilities(out, dim):
            fail(f"Net's output is log_softmax {where} (log-probabilities); the lab asks for the raw class scores, "
                 "to which F.cross_entropy applies log_softmax itself. Return the last layer's output, without "
                 "F.log_softmax.")
        if probabilities(out, dim):
            fail(f"Net's output is softmax {where} (probabilities); the lab trains Net with F.cross_entropy, which "
                 "expects raw class scores and applies log_softmax itself. Return the last layer's output, without "
                 "F.softmax.")


@pytest.mark.points(10)
@pytest.mark.output("softmax")
def test_softmax(submission, lab, images):
    """Output is softmax probabilities over the {classes} classes (values in [0, 1], each row sums to 1)"""
    submission.build_net()
    out = finite_output(submission, lab, images(batch_size(lab))).double()
    if probabilities(out, 1):
        return
    if log_probabilities(out, 1):
        fail("Net's output looks like log-probabilities (each row's logsumexp is 0, values <= 0); the lab expects "
             "probabilities: return F.softmax(x, dim=1).")
    if probabilities(out, 0):
        fail(f"Net's output is softmax over dim 0, {across(lab, 0)}; it must be over dim 1, {across(lab, 1)}: "
             "F.softmax(x, dim=1).")
    sums = out.sum(dim=1)
    fail(f"Net's output looks like raw scores (logits): probabilities are in [0, 1] and each row sums to 1, but "
         f"its values range from {out.min():.3g} to {out.max():.3g} and its rows sum to {sums.min():.3g} to "
         f"{sums.max():.3g}. Return F.softmax(x, dim=1).")


@pytest.mark.points(10)
@pytest.mark.output("sigmoid")
def test_sigmoid(submission, lab, images):
    """Output is a probability per input (a sigmoid: every value in [0, 1], whatever the input)"""
    submission.build_net()
    out = binary_outputs(submission, lab, images)
    if (out >= 0).all() and (out <= 1).all():
        return
    if (out <= 0).all():
        fail("Net's output looks like log-probabilities (every value is <= 0: F.logsigmoid?); the lab expects the "
             "probability of class 1, for binary cross-entropy: return torch.sigmoid of the last layer's output.")
    fail(f"Net's output ranges from {out.min():.3g} to {out.max():.3g} (on the grader's inputs, and on the same "
         f"times {SCALE:g}); a probability is in [0, 1]. Return torch.sigmoid of the last layer's output: the lab "
         "trains Net with binary cross-entropy (nn.BCELoss), which takes probabilities.")


@pytest.mark.points(10)
@pytest.mark.output("logit")
def test_logit(submission, lab, images):
    """Output is a raw score per input (a logit for BCE with logits, not passed through a sigmoid)"""
    submission.build_net()
    out = binary_outputs(submission, lab, images)
    expect(not ((out >= 0).all() and (out <= 1).all()),
           f"Every value of Net's output is in [0, 1] (from {out.min():.3g} to {out.max():.3g}, on the grader's "
           f"inputs and on the same times {SCALE:g}), as if it had passed through a sigmoid; the lab trains Net with "
           "binary cross-entropy with logits (nn.BCEWithLogitsLoss), which applies the sigmoid itself. Return the "
           "last layer's output, without torch.sigmoid.")


@pytest.mark.points(5)
def test_eval_deterministic(submission, lab, images):
    """In eval mode the same batch gives the same output"""
    submission.build_net()
    x = images(batch_size(lab))
    expect_deterministic(submission, lab, x)


def expect_deterministic(submission, lab, x: torch.Tensor) -> None:
    """Fail unless two eval-mode passes over ``x`` (different random seeds) agree exactly."""
    first = finite_output(submission, lab, x, seed=1)
    second = finite_output(submission, lab, x, seed=2)
    difference = (first - second).abs().max()
    expect(
        torch.equal(first, second),
        f"In eval mode Net gave different outputs for the same batch (largest difference "
        f"{difference:.3g}). Dropout must be off in eval mode: use nn.Dropout modules, or pass "
        "training=self.training to F.dropout.",
    )


@pytest.mark.points(5)
def test_batch_independence(submission, lab, images):
    """In eval mode each {input}'s output does not depend on the other {inputs} in its batch"""
    submission.build_net()
    x = images(batch_size(lab))
    expect_deterministic(submission, lab, x)
    whole = finite_output(submission, lab, x)
    n = x.shape[0]
    for part in (slice(0, 1), slice(n // 2 + 1, n)) if n > 2 else (slice(0, 1),):  # the first, the last ones
        alone = finite_output(submission, lab, x[part])
        difference = (whole[part] - alone).abs().max()
        expect(
            torch.allclose(whole[part], alone, atol=1e-5, rtol=1e-4),
            f"In eval mode the output for {inputs_text(lab, part.stop - part.start)} changes when passed "
            f"without the rest of their batch of {x.shape[0]} (largest difference {difference:.3g}). Each "
            f"{input_noun(lab)} must be processed on its own: "
            + ("never normalise" if lab_output(lab).binary else "normalise over dim=1 (the classes), never")
            + " over dim=0 (the batch).",
        )


#: why the dropout check is left out of the score where the architecture check failed
DROPOUT_NOT_JUDGED = ("not judged: Net's dropout is compared with the lab's on what Net computes in eval mode, which "
                      "the grader cannot reproduce (see the architecture check)")


@pytest.mark.points(5)
@pytest.mark.layer(*DROPOUTS)
def test_dropout_placement(submission, lab, images):
    """In train mode Net's dropout is the lab's: the same kinds, at the same places, with the same p"""
    arch = Architecture.from_config(lab)
    net = submission.build_net()
    matching = match_parameters(arch.parameter_shapes(), net.parameters)
    x = images(batch_size(lab))
    model = None if matching.missing else eval_verdict(submission, arch, matching, x).model
    if model is None:  # the architecture check's failure, which costs its own points
        pytest.skip(DROPOUT_NOT_JUDGED)
    problem = dropout_verdict(submission, model, matching, x, [(m.name, m.kind) for m in net.modules])
    if problem is not None:
        fail(problem)


@pytest.mark.points(10)
def test_every_parameter_gets_gradient(submission, lab, images):
    """Every parameter gets a nonzero gradient (no unused or frozen layers)"""
    net = submission.build_net()
    x = images(batch_size(lab))
    generator = torch.Generator().manual_seed(GRADIENT_SEED)
    binary = lab_output(lab).binary  # (N, 1) or (N,): the shape Net returns
    shape = tuple(checked_output(submission, lab, x).shape) if binary else (x.shape[0], lab.setting("net.classes"))
    grad_output = torch.randn(shape, generator=generator)
    state = draw_state(net.parameters, STATE_SEED)
    grads = submission.gradients(state, x, grad_output, seed=GRADIENT_SEED)
    if any(g is not None and not torch.isfinite(g).all() for g in grads.values()):
        fail("Net's gradients have NaN or infinite values (see the check for finite outputs).")
    missing = missing_gradients(grads, net.parameters)
    if missing:
        frozen = [p.name for p in net.parameters if p.name in missing and not p.requires_grad]
        unused = examine(submission, net.parameters, x).unused
        modules = sorted({module_of(name) for name in unused})
        rest = [name for name in missing if name not in frozen and name not in unused]
        fail(" ".join([
            *([f"Parameters {', '.join(frozen)} are frozen (requires_grad=False), so training cannot change "
               "them."] if frozen else []),
            *([f"Layers {', '.join(modules)} are defined in __init__ but never used in forward: their parameters get "
               "no gradient." if len(modules) > 1 else f"Layer {modules[0]} is defined in __init__ but never used in "
               "forward: its parameters get no gradient."] if modules else []),
            *([f"{'Parameters' if len(rest) > 1 else 'Parameter'} {', '.join(rest)} "
               f"{'get' if len(rest) > 1 else 'gets'} no gradient (or almost none), so training never changes "
               f"{'them' if len(rest) > 1 else 'it'}: a .detach(), .data or torch.no_grad() in forward, or an output "
               "function that cancels it?"] if rest else []),
        ]))
    wrong = gradient_mismatches(submission, state, x, grad_output, grads, GRADIENT_SEED)
    expect(not wrong, "The gradients of Net's parameters do not match how its output changes when the grader "
                      f"moves them: {'; '.join(wrong)}. Does forward compute its output in a way autograd does "
                      "not follow (a custom backward, values copied through .data or numpy)?")
