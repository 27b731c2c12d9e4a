"""numpy on (N, H, W, C) batches, as TensorFlow lays them out: a max pooling without padding and its backward
(each window's gradient to its first maximum, as torch), another backward that splits a tied window's
gradient evenly; a convolution with (kh, kw, in, out) weights."""

import numpy as np


def max_pool(x, kernel_size, stride):
    n, h, w, c = x.shape
    h_out, w_out = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    out = np.empty((n, h_out, w_out, c), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, i, j, :] = window.max(axis=(1, 2))
    return out


def max_pool_backward(dout, x, kernel_size, stride):
    n, h, w, c = x.shape
    dx = np.zeros_like(x)
    for i in range(dout.shape[1]):
        for j in range(dout.shape[2]):
            window = x[:, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            first = window.reshape(n, -1, c).argmax(axis=1)
            rows, cols = np.unravel_index(first, (kernel_size, kernel_size))
            for b in range(n):
                for ch in range(c):
                    dx[b, i * stride + rows[b, ch], j * stride + cols[b, ch], ch] += dout[b, i, j, ch]
    return dx


def max_pool_backward_split(dout, x, kernel_size, stride):
    dx = np.zeros_like(x)
    for i in range(dout.shape[1]):
        for j in range(dout.shape[2]):
            rows, cols = slice(i * stride, i * stride + kernel_size), slice(j * stride, j * stride + kernel_size)
            window = x[:, rows, cols]
            top = window == window.max(axis=(1, 2), keepdims=True)
            share = top / top.sum(axis=(1, 2), keepdims=True)
            dx[:, rows, cols] += share * dout[:, i:i + 1, j:j + 1]
    return dx


def conv2d(x, w, b, stride, padding):
    """x: (N, H, W, C_in), w: (kh, kw, C_in, C_out), b: (C_out,) -> (N, H_out, W_out, C_out)."""
    kh, kw, _, c_out = w.shape
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    n, h, wd, _ = padded.shape
    h_out, w_out = (h - kh) // stride + 1, (wd - kw) // stride + 1
    assert h_out > 0 and w_out > 0, "the kernel is larger than the padded input"
    out = np.empty((n, h_out, w_out, c_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2])) + b
    return out
