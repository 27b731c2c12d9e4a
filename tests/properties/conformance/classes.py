"""Layers as classes with forward (and backward) methods, as "CNN from scratch" tutorials write them: a
numpy max pooling that remembers its input for its backward, and a torch convolution layer whose weight
and bias are attributes (autograd gives its gradients)."""

import numpy as np
import torch


class MaxPool:
    def __init__(self, kernel_size, stride):
        self.size, self.stride = kernel_size, stride

    def forward(self, x):
        self.x = x
        n, c, h, w = x.shape
        k, s = self.size, self.stride
        out = np.empty((n, c, (h - k) // s + 1, (w - k) // s + 1), dtype=x.dtype)
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                out[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
        return out

    def backward(self, dout):
        k, s = self.size, self.stride
        dx = np.zeros_like(self.x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = self.x[:, :, i * s:i * s + k, j * s:j * s + k]
                flat = window.reshape(*window.shape[:2], -1)
                first = flat.argmax(axis=2)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, first[..., None], 1.0, axis=2)
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += mask.reshape(window.shape) * dout[:, :, i:i + 1, j:j + 1]
        return dx


class Conv:
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        kh, kw = kernel_size
        self.stride, self.padding = stride, padding
        self.weight = torch.randn(out_channels, in_channels, kh, kw)
        self.bias = torch.zeros(out_channels)

    def forward(self, x):
        p, s = self.padding, self.stride
        x = torch.nn.functional.pad(x, (p, p, p, p))
        out_channels, _, kh, kw = self.weight.shape
        h_out, w_out = (x.shape[2] - kh) // s + 1, (x.shape[3] - kw) // s + 1
        columns = [x[:, :, i * s:i * s + kh, j * s:j * s + kw].flatten(1) for i in range(h_out) for j in range(w_out)]
        out = torch.stack(columns, dim=2).transpose(1, 2) @ self.weight.reshape(out_channels, -1).T + self.bias
        return out.transpose(1, 2).reshape(x.shape[0], out_channels, h_out, w_out)
