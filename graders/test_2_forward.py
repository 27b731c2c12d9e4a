"""Forward pass of the lab's Net: shape, log-softmax, modes, batch independence, dropout, gradients."""

from __future__ import annotations

import pytest
import torch

from cnngrade.grader.architecture import Architecture
from cnngrade.grader.equivalence import dropout_verdict, eval_verdict, match_parameters, module_of
from cnngrade.grader.feedback import expect, fail
from cnngrade.grader.parameters import STATE_SEED, draw_state, examine, gradient_mismatches, missing_gradients

#: the seed the gradients (dropout masks, the weights of the output's sum) are drawn with
GRADIENT_SEED = 0


def batch_size(lab) -> int:
    return lab.setting("net.batch_sizes")[-1]


def images_text(n: int) -> str:
    """``1 image``, ``7 images``."""
    return f"{n} image" + ("" if n == 1 else "s")


def checked_output(submission, lab, x: torch.Tensor, *, train: bool = False, seed: int = 0) -> torch.Tensor:
    """The net's output for ``x``, failing the check if its shape is not (N, classes)."""
    out = submission.forward(x, train=train, seed=seed)
    expected = (x.shape[0], lab.setting("net.classes"))
    if tuple(out.shape) != expected:
        fail(
            f"For a batch of {images_text(x.shape[0])} Net's output has shape {tuple(out.shape)}; "
            f"expected {expected}: one score per class for each image."
        )
    return out


def finite_output(submission, lab, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """Like :func:`checked_output`, also failing on NaN or infinite values."""
    out = checked_output(submission, lab, x, **kwargs)
    bad = ~torch.isfinite(out).all(dim=1)
    if bad.any():
        kinds = " and ".join(k for k, m in (("NaN", out.isnan()), ("infinite values", out.isinf())) if m.any())
        mode = "train" if kwargs.get("train") else "eval"
        fail(
            f"Net's output contains {kinds} for {int(bad.sum())} of {x.shape[0]} images ({mode} mode). "
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
    """Output has shape (N, {classes}) for batches of {batch_sizes} images"""
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


@pytest.mark.points(10)
@pytest.mark.output("log_softmax")
def test_log_softmax(submission, lab, images):
    """Output is log-softmax over the {classes} classes (each row's logsumexp is 0, values <= 0)"""
    submission.build_net()
    out = finite_output(submission, lab, images(batch_size(lab))).double()
    row_lse = out.logsumexp(dim=1)
    if row_lse.abs().max() <= 1e-4 and out.max() <= 1e-6:
        return
    probabilities = (out >= 0).all() and (out <= 1).all() and (out.sum(dim=1) - 1).abs().max() <= 1e-4
    if probabilities:
        fail(
            "Net's output looks like softmax probabilities (each row sums to 1); the lab expects "
            "log-probabilities for F.nll_loss: return F.log_softmax(x, dim=1)."
        )
    if out.logsumexp(dim=0).abs().max() <= 1e-4:
        fail(
            "Net's output is log_softmax over dim 0, across the images of the batch; it must be over "
            "dim 1, across the 10 classes: F.log_softmax(x, dim=1)."
        )
    fail(
        f"Net's output looks like raw scores (logits): each row's logsumexp should be 0 but ranges "
        f"from {row_lse.min():.3g} to {row_lse.max():.3g}, and the largest value is {out.max():.3g} "
        "(log-probabilities are <= 0). Return F.log_softmax(x, dim=1)."
    )


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
    """In eval mode each image's output does not depend on the other images in its batch"""
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
            f"In eval mode the output for {images_text(part.stop - part.start)} changes when passed "
            f"without the rest of their batch of {x.shape[0]} (largest difference "
            f"{difference:.3g}). Each image must be processed on its own: normalise over dim=1 "
            "(the classes), never over dim=0 (the batch).",
        )


@pytest.mark.points(5)
def test_dropout_placement(submission, lab, images):
    """In train mode Net's dropout is the lab's: the same kinds, at the same places, with the same p"""
    arch = Architecture.from_config(lab)
    net = submission.build_net()
    matching = match_parameters(arch.parameter_shapes(), net.parameters)
    x = images(batch_size(lab))
    model = None if matching.missing else eval_verdict(submission, arch, matching, x).model
    if model is None:
        fail("Dropout can be checked once the grader can reproduce what Net computes in eval mode (see the "
             "architecture check).")
    problem = dropout_verdict(submission, model, matching, x, [(m.name, m.kind) for m in net.modules])
    if problem is not None:
        fail(problem)


@pytest.mark.points(10)
def test_every_parameter_gets_gradient(submission, lab, images):
    """Every parameter gets a nonzero gradient (no unused or frozen layers)"""
    net = submission.build_net()
    x = images(batch_size(lab))
    generator = torch.Generator().manual_seed(GRADIENT_SEED)
    grad_output = torch.randn(x.shape[0], lab.setting("net.classes"), generator=generator)
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
