"""A first try at max pooling with numpy on (N, H, W, C) batches: two bugs that docs/properties.md shows."""

import numpy as np


def max_pool(x, kernel_size, stride):
    n, h, w, c = x.shape
    h_out, w_out = h // stride, w // stride
    out = np.zeros((n, h_out, w_out, c))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, i, j] = window.max(axis=(1, 2))
    return out
