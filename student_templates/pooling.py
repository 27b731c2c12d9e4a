# %% [markdown]
# # Lab 4: max and average pooling from scratch
#
# Write `max_pool2d` and `avg_pool2d` without PyTorch's pooling functions (no
# `torch.nn.functional.max_pool2d`, `avg_pool2d`, `unfold`, `nn.MaxPool2d`...). Tensor indexing,
# `Tensor.unfold` (sliding windows along one dimension), `reshape`, `amax` / `argmax` / `sum`
# are all fine. Avoid Python loops over output elements: work on whole tensors.
#
# Both functions take a tensor of shape `(N, C, H, W)`, `(C, H, W)` or `(H, W)` and must give the
# same results as `torch.nn.functional.max_pool2d` / `avg_pool2d` (with their default
# `dilation=1`, `ceil_mode=False` and, for the average, `count_include_pad=True`).
#
# Output size, as documented by `torch.nn.functional` (`k` kernel, `s` stride, `p` padding):
#
#     H_out = floor((H + 2*p - k) / s) + 1        W_out = floor((W + 2*p - k) / s) + 1

# %%
import torch


# %%
def max_pool2d(x, kernel_size, stride=None, padding=0):
    """2-D max pooling of ``x``: the same result as ``torch.nn.functional.max_pool2d``.

    Args:
        x: a tensor of shape ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``.
        kernel_size: the window size, an int ``k`` or a pair ``(kh, kw)``.
        stride: the step between windows, an int or a pair; ``None`` (the default) means
            ``kernel_size``.
        padding: implicit padding with ``-inf`` on both sides, an int or a pair; at most half
            the kernel size (``padding <= kernel_size // 2``), as torch requires.

    Returns:
        A tensor of shape ``(..., H_out, W_out)`` (the leading dimensions of ``x`` unchanged), where

            H_out = floor((H + 2*padding - kernel_size)/stride) + 1
            W_out = floor((W + 2*padding - kernel_size)/stride) + 1

        (with pairs, the first value applies to H, the second to W). Element ``[..., i, j]`` is
        the largest element of the ``kh x kw`` window of the padded input at rows
        ``i*sh ... i*sh + kh - 1`` and columns ``j*sw ... j*sw + kw - 1`` (``sh, sw`` the
        stride). Padding never wins: it is ``-inf``.

    Raises:
        ValueError: for a stride of zero, a padding over half the kernel, a kernel larger than
            the padded input, or an input that is not 2-, 3- or 4-dimensional.
    """
    # TODO: your code here
    raise NotImplementedError


# %%
def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """2-D average pooling of ``x``: the same result as ``torch.nn.functional.avg_pool2d``.

    Args:
        x: a tensor of shape ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``.
        kernel_size: the window size, an int ``k`` or a pair ``(kh, kw)``.
        stride: the step between windows, an int or a pair; ``None`` (the default) means
            ``kernel_size``.
        padding: implicit zero padding on both sides, an int or a pair; at most half the
            kernel size (``padding <= kernel_size // 2``), as torch requires.

    Returns:
        A tensor of shape ``(..., H_out, W_out)`` (the leading dimensions of ``x`` unchanged), where

            H_out = floor((H + 2*padding - kernel_size)/stride) + 1
            W_out = floor((W + 2*padding - kernel_size)/stride) + 1

        (with pairs, the first value applies to H, the second to W). Element ``[..., i, j]`` is
        the mean of its ``kh x kw`` window of the zero-padded input, padding included
        (``count_include_pad=True``): ``sum(window) / (kh * kw)``.

    Raises:
        ValueError: for a stride of zero, a padding over half the kernel, a kernel larger than
            the padded input, or an input that is not 2-, 3- or 4-dimensional.
    """
    # TODO: your code here
    raise NotImplementedError
