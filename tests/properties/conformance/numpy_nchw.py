"""Pooling with numpy on (N, C, H, W) batches, int arguments, torch's names and defaults; illegal arguments
fail an assertion."""

import numpy as np


def max_pool2d(x, kernel_size, stride=None, padding=0):
    stride = kernel_size if stride is None else stride
    assert stride > 0 and 2 * padding <= kernel_size, "illegal pooling arguments"
    n, c, h, w = x.shape
    h_out = (h + 2 * padding - kernel_size) // stride + 1
    w_out = (w + 2 * padding - kernel_size) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    out = np.empty((n, c, h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = padded[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = window.max(axis=(2, 3), initial=-np.inf)
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    stride = kernel_size if stride is None else stride
    assert stride > 0 and 2 * padding <= kernel_size, "illegal pooling arguments"
    n, c, h, w = x.shape
    h_out = (h + 2 * padding - kernel_size) // stride + 1
    w_out = (w + 2 * padding - kernel_size) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((n, c, h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = padded[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = window.sum(axis=(2, 3)) / (kernel_size * kernel_size)
    return out
