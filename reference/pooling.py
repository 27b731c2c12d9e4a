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
    ### BEGIN SOLUTION
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
    planes = x.reshape(-1, height, width)  # every (sample, channel) plane, one after the other
    padded = planes.new_full((planes.shape[0], height + 2 * ph, width + 2 * pw), -torch.inf)
    padded[:, ph:ph + height, pw:pw + width] = planes
    # (planes, h_out, w_out, kh, kw): one kh x kw window per output position
    windows = padded.unfold(1, kh, sh).unfold(2, kw, sw)
    windows = windows.reshape(planes.shape[0], h_out, w_out, kh * kw)
    # the first largest element of each window (as torch picks it, which decides the gradient)
    best = windows.argmax(dim=-1, keepdim=True)
    out = windows.gather(-1, best).squeeze(-1)
    return out.reshape(*lead, h_out, w_out)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
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
    out = windows.sum(dim=(-2, -1)) / (kh * kw)  # padding counts in the divisor
    return out.reshape(*lead, h_out, w_out)
    ### END SOLUTION
