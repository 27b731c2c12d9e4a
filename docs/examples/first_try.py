"""A first try at max pooling with numpy on (N, H, W, C) batches, as a script that tries it out: two bugs,
which docs/properties.md finds."""

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


# the script's own try: `cnngrade conform` loads definitions only, so this does not run there
batch = np.random.default_rng(0).standard_normal((64, 28, 28, 8)).astype(np.float32)
print(max_pool(batch, 2, 2).shape)
