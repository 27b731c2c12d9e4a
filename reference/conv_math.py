# %% [markdown]
# # Lab 4: convolution arithmetic, parameter counts and convolution by unfold
#
# Convolution arithmetic, as `torch.nn.Conv2d` documents it, for one spatial dimension
# (`k` kernel size, `s` stride, `p` padding, `d` dilation):
#
#     out = floor((size + 2*p - d*(k - 1) - 1) / s) + 1
#
# A convolution layer has `out_channels * in_channels * kh * kw` weights and `out_channels`
# biases; a fully connected layer `in_features * out_features` weights and `out_features` biases.
#
# `unfold` ("im2col") gathers every kernel-sized patch of the (zero-)padded input into a column:
# a convolution is then one matrix product of the flattened weights with those columns. `fold`
# is its adjoint: it adds every column back at its patch's place, summing where patches overlap.
# Write them without `torch.nn.functional.unfold`, `fold` or `conv2d`: `Tensor.unfold` (sliding
# windows along one dimension), indexing, `reshape`, `permute`, `index_add` and `@` are fine.

# %%
import torch


# %%
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output size of a convolution (or pooling) along each spatial dimension.

    Every argument is an int or a pair (height, width); the result is an int when all of them
    are ints, else a pair::

        out = floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1

    Example: ``conv_output_size(28, 5)`` is 24, ``conv_output_size((6, 8), 3, stride=3)`` is
    ``(2, 2)``.

    Raises:
        ValueError: for a stride that is not positive.
    """
    ### BEGIN SOLUTION
    args = (size, kernel_size, stride, padding, dilation)
    if all(isinstance(a, int) for a in args):
        if stride <= 0:
            raise ValueError(f"stride must be positive, got {stride}")
        return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    pairs = [(a, a) if isinstance(a, int) else tuple(a) for a in args]
    return tuple(conv_output_size(*(p[i] for p in pairs)) for i in range(2))
    ### END SOLUTION


# %%
def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    """Number of parameters of ``torch.nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)``.

    ``kernel_size`` is an int ``k`` (a k x k kernel) or a pair ``(kh, kw)``::

        params = out_channels * in_channels * kh * kw + (out_channels if bias else 0)

    Example: ``conv2d_param_count(3, 256, 3)`` is 7,168.
    """
    ### BEGIN SOLUTION
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)
    ### END SOLUTION


# %%
def linear_param_count(in_features, out_features, bias=True):
    """Number of parameters of ``torch.nn.Linear(in_features, out_features, bias=bias)``::

        params = in_features * out_features + (out_features if bias else 0)

    Example: ``linear_param_count(320, 50)`` is 16,050.
    """
    ### BEGIN SOLUTION
    return in_features * out_features + (out_features if bias else 0)
    ### END SOLUTION


# %%
def unfold(x, kernel_size, stride=1, padding=0):
    """Every kernel-sized patch of ``x`` as a column ("im2col"): ``torch.nn.functional.unfold``.

    Args:
        x: a tensor of shape ``(N, C, H, W)`` (or ``(C, H, W)``, giving an unbatched result).
        kernel_size, stride, padding: ints or pairs; the padding is zeros, on both sides.

    Returns:
        A tensor of shape ``(N, C*kh*kw, L)`` with ``L = H_out * W_out`` patches, where

            H_out = floor((H + 2*padding[0] - kernel_size[0]) / stride[0]) + 1
            W_out = floor((W + 2*padding[1] - kernel_size[1]) / stride[1]) + 1

        Column ``l = i*W_out + j`` (patches in row-major order) holds the patch at output
        position ``(i, j)``; row ``c*kh*kw + u*kw + v`` holds its channel ``c``, kernel row ``u``,
        kernel column ``v``: ``out[n, c*kh*kw + u*kw + v, i*W_out + j] =
        padded[n, c, i*stride[0] + u, j*stride[1] + v]``.

    Raises:
        ValueError: for a stride that is not positive or a kernel larger than the padded input.
    """
    ### BEGIN SOLUTION
    def pair(value):
        return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))

    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), pair(stride), pair(padding)
    if sh <= 0 or sw <= 0:
        raise ValueError(f"stride should be greater than zero, got stride={stride!r}")
    if x.dim() == 3:
        return unfold(x.unsqueeze(0), kernel_size, stride, padding).squeeze(0)
    if x.dim() != 4:
        raise ValueError(f"expected a 3-D or 4-D tensor, got shape {tuple(x.shape)}")
    n, c, height, width = x.shape
    h_out = (height + 2 * ph - kh) // sh + 1
    w_out = (width + 2 * pw - kw) // sw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"kernel {kh}x{kw} is larger than the padded input "
                         f"{height + 2 * ph}x{width + 2 * pw}")
    padded = x.new_zeros((n, c, height + 2 * ph, width + 2 * pw))
    padded[:, :, ph:ph + height, pw:pw + width] = x
    patches = padded.unfold(2, kh, sh).unfold(3, kw, sw)  # (n, c, h_out, w_out, kh, kw)
    patches = patches.permute(0, 1, 4, 5, 2, 3)  # (n, c, kh, kw, h_out, w_out)
    return patches.reshape(n, c * kh * kw, h_out * w_out)
    ### END SOLUTION


# %%
def fold(patches, output_size, kernel_size, stride=1, padding=0):
    """Add columns of patches back into an image: ``torch.nn.functional.fold``.

    The adjoint of :func:`unfold`: ``patches`` of shape ``(N, C*kh*kw, L)`` (or ``(C*kh*kw, L)``)
    become a tensor of shape ``(N, C, H, W)`` with ``(H, W) = output_size``; each column is added
    at its patch's place in the zero-padded ``(H + 2*padding[0], W + 2*padding[1])`` canvas
    (values of overlapping patches are summed) and the padding is then cut off::

        out[n, c, i*stride[0] + u - padding[0], j*stride[1] + v - padding[1]]
            += patches[n, c*kh*kw + u*kw + v, i*W_out + j]

    ``L`` must equal ``H_out * W_out``, the number of patches of :func:`unfold` for that size.
    ``fold(unfold(x))`` is ``x`` times the number of patches covering each position.

    Raises:
        ValueError: for a stride that is not positive, or patches whose shape does not match
            ``output_size``, ``kernel_size``, ``stride`` and ``padding``.
    """
    ### BEGIN SOLUTION
    def pair(value):
        return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))

    (height, width), (kh, kw) = pair(output_size), pair(kernel_size)
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    if sh <= 0 or sw <= 0:
        raise ValueError(f"stride should be greater than zero, got stride={stride!r}")
    if patches.dim() == 2:
        return fold(patches.unsqueeze(0), output_size, kernel_size, stride, padding).squeeze(0)
    if patches.dim() != 3:
        raise ValueError(f"expected a 2-D or 3-D tensor of patches, got shape {tuple(patches.shape)}")
    n, rows, length = patches.shape
    h_out = (height + 2 * ph - kh) // sh + 1
    w_out = (width + 2 * pw - kw) // sw + 1
    if rows % (kh * kw) != 0:
        raise ValueError(f"patches have {rows} rows, not a multiple of kernel size {kh}*{kw}")
    if h_out < 1 or w_out < 1 or length != h_out * w_out:
        raise ValueError(f"expected {max(h_out, 0) * max(w_out, 0)} patches for output_size "
                         f"{(height, width)}, got {length}")
    c = rows // (kh * kw)
    ph_size, pw_size = height + 2 * ph, width + 2 * pw
    # flat position, in the padded canvas, of kernel cell (u, v) of patch (i, j): (kh, kw, h_out, w_out)
    u = torch.arange(kh).view(kh, 1, 1, 1)
    v = torch.arange(kw).view(1, kw, 1, 1)
    i = torch.arange(h_out).view(1, 1, h_out, 1)
    j = torch.arange(w_out).view(1, 1, 1, w_out)
    where = ((i * sh + u) * pw_size + (j * sw + v)).reshape(-1).to(patches.device)
    canvas = patches.new_zeros((n, c, ph_size * pw_size))
    canvas = canvas.index_add(2, where, patches.reshape(n, c, kh * kw * length))
    canvas = canvas.reshape(n, c, ph_size, pw_size)
    return canvas[:, :, ph:ph + height, pw:pw + width]
    ### END SOLUTION


# %%
def conv2d_unfold(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) as unfold + one matrix product: ``F.conv2d``.

    Args:
        x: a tensor of shape ``(N, C, H, W)`` (or ``(C, H, W)``).
        weight: a tensor of shape ``(O, C, kh, kw)``.
        bias: ``None`` or a tensor of shape ``(O,)``.
        stride, padding: ints or pairs (zero padding on both sides).

    Returns:
        A tensor of shape ``(N, O, H_out, W_out)`` with H_out, W_out as in :func:`unfold`::

            out[n, o] = bias[o] + sum over c, u, v of weight[o, c, u, v] * padded[n, c, i*s + u, j*s + v]

        computed as ``weight.reshape(O, C*kh*kw) @ unfold(x)``, reshaped to the output grid.

    Raises:
        ValueError: for a stride that is not positive, a kernel larger than the padded input or
            a weight whose channel count differs from the input's.
    """
    ### BEGIN SOLUTION
    if x.dim() == 3:
        return conv2d_unfold(x.unsqueeze(0), weight, bias, stride, padding).squeeze(0)
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError(f"expected a 4-D input and a 4-D weight, got shapes {tuple(x.shape)} "
                         f"and {tuple(weight.shape)}")
    n, c, height, width = x.shape
    out_channels, weight_channels, kh, kw = weight.shape
    if weight_channels != c:
        raise ValueError(f"weight expects {weight_channels} input channels, the input has {c}")
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    columns = unfold(x, (kh, kw), stride, padding)  # (n, c*kh*kw, L)
    out = weight.reshape(out_channels, c * kh * kw) @ columns  # (n, out_channels, L)
    if bias is not None:
        out = out + bias.reshape(1, out_channels, 1)
    h_out = (height + 2 * ph - kh) // sh + 1
    w_out = (width + 2 * pw - kw) // sw + 1
    return out.reshape(n, out_channels, h_out, w_out)
    ### END SOLUTION
