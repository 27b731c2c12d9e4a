"""Max pooling with numpy on (N, H, W, C) batches, and its backward: the layer docs/properties.md checks."""

import numpy as np


def max_pool(x, kernel_size, stride):
    """(N, H, W, C) -> (N, H_out, W_out, C): the maximum of each kernel_size x kernel_size window."""
    n, h, w, c = x.shape
    h_out, w_out = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    out = np.empty((n, h_out, w_out, c), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, i, j] = window.max(axis=(1, 2))
    return out


def max_pool_backward(dout, x, kernel_size, stride):
    """The gradient with respect to x: each window's upstream gradient to its first maximum."""
    n, h, w, c = x.shape
    dx = np.zeros_like(x)
    for i in range(dout.shape[1]):
        for j in range(dout.shape[2]):
            window = x[:, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            rows, cols = np.unravel_index(window.reshape(n, -1, c).argmax(axis=1), (kernel_size, kernel_size))
            images, channels = np.indices((n, c))
            dx[images, i * stride + rows, j * stride + cols, channels] += dout[:, i, j]
    return dx

