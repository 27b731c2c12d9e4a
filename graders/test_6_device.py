"""Device handling: CPU without CUDA, .to(device), DataParallel, CPU and CUDA agree."""

from __future__ import annotations

import pytest
import torch

from cnngrade.grader.feedback import expect


@pytest.mark.points(5)
def test_runs_without_cuda(submission, images):
    """Net builds and runs on the CPU when CUDA is unavailable (no hard-coded .cuda())"""
    out = submission.cpu_only_forward(images(8))
    expect(out.shape[0] == 8, f"Net's output has shape {tuple(out.shape)} for 8 images.")


@pytest.mark.points(5)
def test_to_device_moves_everything(submission, images):
    """.to(device) moves every parameter and buffer, and the output stays on the input's device"""
    submission.build_net()
    device = "cuda" if torch.cuda.is_available() else "meta"
    _, stray, output_device = submission.forward_on(device, images(8))
    expect(not stray, f"After Net.to({device!r}), {', '.join(stray)} stayed behind: register tensors "
                      "as nn.Parameter or with self.register_buffer so that .to() moves them.")
    expect(torch.device(output_device).type == device,
           f"For input on {device} Net returned its output on {output_device}. Don't move tensors to a "
           "fixed device inside forward.")


@pytest.mark.points(5)
def test_data_parallel(submission, images):
    """nn.DataParallel(Net()) gives the same output as Net()"""
    submission.build_net()
    x = images(8)
    plain = submission.forward(x)
    wrapped = submission.data_parallel_forward(x)
    expect(torch.allclose(plain, wrapped, atol=1e-5),
           f"nn.DataParallel(Net()) output differs from Net()'s by up to {(plain - wrapped).abs().max():.3g}.")


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
