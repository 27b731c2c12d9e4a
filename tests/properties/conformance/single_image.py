"""Functions of one image: a torch max pooling of a (C, H, W) image written with loops (autograd gives its
gradient), and a numpy average pooling of one (H, W) plane with windows side by side (stride = size)."""

import numpy as np
import torch


def max_pool_image(image, kernel_size, stride, padding):
    c, h, w = image.shape
    padded = torch.full((c, h + 2 * padding, w + 2 * padding), float("-inf"), dtype=image.dtype)
    padded[:, padding:padding + h, padding:padding + w] = image
    h_out = (h + 2 * padding - kernel_size) // stride + 1
    w_out = (w + 2 * padding - kernel_size) // stride + 1
    rows = []
    for i in range(h_out):
        row = [padded[:, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size].amax(dim=(1, 2))
               for j in range(w_out)]
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)


def average_plane(plane, size):
    h_out, w_out = plane.shape[0] // size, plane.shape[1] // size
    out = np.zeros((h_out, w_out), dtype=plane.dtype)
    for i in range(h_out):
        for j in range(w_out):
            out[i, j] = plane[i * size:(i + 1) * size, j * size:(j + 1) * size].mean()
    return out
