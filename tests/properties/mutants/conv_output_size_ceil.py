"""Mutant: conv_output_size rounds up (ceil) instead of down.

Killed by check_conv_output_size's formula."""

import torch


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    args = (size, kernel_size, stride, padding, dilation)
    if all(isinstance(a, int) for a in args):
        if stride <= 0:
            raise ValueError(f"stride must be positive, got {stride}")
        return -(-(size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride) + 1  # MUTANT: ceil
    pairs = [(a, a) if isinstance(a, int) else tuple(a) for a in args]
    return tuple(conv_output_size(*(p[i] for p in pairs)) for i in range(2))
