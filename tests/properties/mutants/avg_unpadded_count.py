"""Mutant: avg_pool2d divides by the number of input elements in the window, not counting the padding
(count_include_pad=False), where torch's default counts it.

Killed by matches_torch."""

import torch


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    def pair(value, name):
        if isinstance(value, int):
            return value, value
        value = tuple(value)
        if len(value) == 1:
            return value[0], value[0]
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return int(value[0]), int(value[1])

    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    if sh == 0 or sw == 0:
        raise ValueError("stride should not be zero")
    if kh <= 0 or kw <= 0 or sh < 0 or sw < 0:
        raise ValueError(f"kernel_size and stride must be positive, got kernel_size={kernel_size!r}, "
                         f"stride={stride!r}")
    if ph < 0 or pw < 0:
        raise ValueError(f"pad must be non-negative, but got padding={padding!r}")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"pad should be at most half of kernel size, but got padding={padding!r} "
                         f"and kernel_size={kernel_size!r}")
    if x.dim() not in (2, 3, 4):
        raise ValueError(f"expected a 2-D, 3-D or 4-D tensor, got shape {tuple(x.shape)}")
    *lead, height, width = x.shape
    h_out = (height + 2 * ph - kh) // sh + 1
    w_out = (width + 2 * pw - kw) // sw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"output size is too small: input {height}x{width}, kernel {kh}x{kw}, "
                         f"padding {ph}x{pw} give {h_out}x{w_out}")
    planes = x.reshape(-1, height, width)
    padded = planes.new_zeros((planes.shape[0], height + 2 * ph, width + 2 * pw))
    padded[:, ph:ph + height, pw:pw + width] = planes
    windows = padded.unfold(1, kh, sh).unfold(2, kw, sw)  # (planes, h_out, w_out, kh, kw)
    ones = planes.new_zeros(padded.shape)
    ones[:, ph:ph + height, pw:pw + width] = 1
    counts = ones.unfold(1, kh, sh).unfold(2, kw, sw).sum(dim=(-2, -1))
    out = windows.sum(dim=(-2, -1)) / counts  # MUTANT: padding not counted
    return out.reshape(*lead, h_out, w_out)
