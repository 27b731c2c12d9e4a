"""Device handling: CPU without CUDA, .to(device), DataParallel, CPU and CUDA agree.

Outputs are compared with Net's ordinary output for the same weights (Net() built under the same
seed). Which tensors ``.to(device)`` moved, and on which device the output was computed, only the
submission can tell (without a GPU the move is tried on torch's ``meta`` device, where tensors have
no values): that check is marked self-reported. The checks run on a batch Net handles on the CPU
(:func:`device_batch`): a Net that only takes batches of one size (``x.view(64, -1)``) loses the output
checks' points, not these.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from cnngrade.grader.feedback import expect, fail, self_reported
from cnngrade.grader.inputs import inputs_text
from cnngrade.lab.config import LabConfig
from cnngrade.submission.errors import StudentCodeError
from cnngrade.submission.handle import Submission

#: the largest difference allowed between two float32 computations of the same output on the CPU
CPU_ATOL = 1e-5
#: the batch size the device checks use where Net takes it
BATCH = 8


def device_batch(submission: Submission, lab: LabConfig, images: Callable[..., torch.Tensor]
                 ) -> tuple[torch.Tensor, bool]:
    """A batch for the device checks, and whether Net's ordinary forward on the CPU handles it:
    :data:`BATCH` inputs, or where Net fails on them, the first of the lab's other batch sizes
    (``[net] batch_sizes``, ``[speed] batch_size``) it handles, so that a batch size written into forward
    is charged by the output checks alone; :data:`BATCH` where it handles none (its mistake is another,
    maybe a device one: the checks judge it as it is)."""
    sizes = dict.fromkeys([BATCH, *lab.get("net.batch_sizes", []), lab.get("speed.batch_size", BATCH)])
    for n in sizes:
        try:
            submission.build_net()
            submission.forward(images(n))
        except StudentCodeError:
            continue
        return images(n), True
    return images(BATCH), False


@pytest.mark.points(5)
def test_runs_without_cuda(submission, lab, images):
    """Net builds and runs on the CPU when CUDA is unavailable (no hard-coded .cuda())"""
    x, _ = device_batch(submission, lab, images)
    n = len(x)
    out = submission.cpu_only_forward(x)
    expect(out.shape[0] == n, f"Net's output has shape {tuple(out.shape)} for {inputs_text(lab, n)}.")
    submission.build_net()
    expected = submission.forward(x)
    expect(out.shape == expected.shape and torch.allclose(out, expected, atol=CPU_ATOL),
           "Without CUDA, Net's output differs from its output for the same weights with CUDA reported "
           "available: does Net change what it computes when torch.cuda.is_available() is False?")


@pytest.mark.points(5)
def test_to_device_moves_everything(submission, lab, images, request):
    """.to(device) moves every parameter and buffer, and the output stays on the input's device"""
    x, runs_on_cpu = device_batch(submission, lab, images)
    submission.build_net()
    device = "cuda" if torch.cuda.is_available() else "meta"
    self_reported(request, "which tensors .to(device) moved is the submission's word")
    try:
        moved, stray, output_device = submission.forward_on(device, x)
    except StudentCodeError as error:
        if not runs_on_cpu:
            fail(f"{error} Net's forward fails on the CPU too, without .to({device!r}), for every batch size the "
                 "lab uses: fix that first (see the forward checks).")
        fail(f"{error} Tensors Net makes in __init__ must be nn.Parameter or buffers (self.register_buffer) so "
             "that .to() moves them, and forward must not make tensors on a fixed device.")
    expect(not stray, f"After Net.to({device!r}), {', '.join(stray)} stayed behind: register tensors "
                      "as nn.Parameter or with self.register_buffer so that .to() moves them.")
    expect(torch.device(output_device).type == device,
           f"For input on {device} Net returned its output on {output_device}. Don't move tensors to a "
           "fixed device inside forward.")
    if device != "meta":
        expected = submission.forward(x)
        tolerance = lab.setting("device.cuda_atol")
        expect(torch.allclose(moved, expected, atol=tolerance),
               f"After Net.to({device!r}) its output differs from the CPU's by up to "
               f"{(moved - expected).abs().max():.3g} (allowed: {tolerance:g}).")


@pytest.mark.points(5)
def test_data_parallel(submission, lab, images):
    """nn.DataParallel(Net()) over the GPUs gives the same output as Net() on the CPU"""
    if torch.cuda.device_count() < 2:
        pytest.skip("nn.DataParallel splits a batch only across 2 or more GPUs; here it would call Net directly")
    submission.build_net()
    x = images(8)
    plain = submission.forward(x)
    wrapped = submission.data_parallel_forward(x)
    tolerance = lab.setting("device.cuda_atol")
    expect(wrapped.shape == plain.shape and torch.allclose(plain, wrapped, atol=tolerance),
           "nn.DataParallel(Net()) output differs from Net()'s on the CPU by up to "
           f"{(plain - wrapped).abs().max():.3g} (allowed: {tolerance:g}): with the batch split across GPUs, "
           "each part must give what the whole batch gives.")


@pytest.mark.points(5)
def test_cpu_and_cuda_agree(submission, lab, images):
    """On a machine with CUDA, CPU and CUDA outputs agree"""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    submission.build_net()
    x = images(16)
    on_cpu = submission.forward(x)
    on_cuda, _, _ = submission.forward_on("cuda", x)
    tolerance = lab.setting("device.cuda_atol")
    difference = (on_cpu - on_cuda).abs().max()
    expect(difference <= tolerance, f"CPU and CUDA outputs differ by up to {difference:.3g} "
                                    f"(allowed: {tolerance:g}).")
