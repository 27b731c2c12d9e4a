"""Mutant: conv2d_unfold ignores its bias.

Killed by matches_torch and bias."""

import torch


def unfold(x, kernel_size, stride=1, padding=0):
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


def conv2d_unfold(x, weight, bias=None, stride=1, padding=0):
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
    # MUTANT: bias ignored
    h_out = (height + 2 * ph - kh) // sh + 1
    w_out = (width + 2 * pw - kw) // sw + 1
    return out.reshape(n, out_channels, h_out, w_out)
