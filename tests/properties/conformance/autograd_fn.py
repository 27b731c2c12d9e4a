"""An autograd.Function: max pooling with a backward of its own (each window's gradient to its first
maximum), over torch's unfold."""

import torch
import torch.nn.functional as F


class MaxPool2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride=None, padding=0):
        stride = kernel_size if stride is None else stride
        n, c, h, w = x.shape
        padded = F.pad(x, (padding,) * 4, value=float("-inf"))
        windows = padded.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride)
        flat = windows.reshape(*windows.shape[:4], -1)
        out, best = flat.max(dim=-1)
        ctx.save_for_backward(best)
        ctx.shape, ctx.args = padded.shape, (kernel_size, stride, padding, h, w)
        return out

    @staticmethod
    def backward(ctx, grad):
        (best,) = ctx.saved_tensors
        kernel_size, stride, padding, h, w = ctx.args
        rows = torch.arange(best.shape[2]).reshape(-1, 1) * stride + torch.div(best, kernel_size, rounding_mode="floor")
        cols = torch.arange(best.shape[3]).reshape(1, -1) * stride + best % kernel_size
        flat_index = rows * ctx.shape[3] + cols
        dx = grad.new_zeros(*ctx.shape[:2], ctx.shape[2] * ctx.shape[3])
        dx.scatter_add_(2, flat_index.flatten(2), grad.flatten(2))
        dx = dx.reshape(ctx.shape)[:, :, padding:padding + h, padding:padding + w]
        return dx, None, None, None
