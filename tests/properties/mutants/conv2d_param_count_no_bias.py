"""Mutant: conv2d_param_count forgets the biases.

Killed by check_conv2d_param_count's matches_torch."""

import torch


def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return out_channels * in_channels * kh * kw  # MUTANT: no biases
