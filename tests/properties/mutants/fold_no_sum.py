"""Mutant: fold writes each patch over the canvas instead of adding it: overlapping patches are not summed.

Killed by matches_torch and roundtrip."""

import torch


def fold(patches, output_size, kernel_size, stride=1, padding=0):
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
    canvas = canvas.index_copy(2, where, patches.reshape(n, c, kh * kw * length))  # MUTANT: no sum
    canvas = canvas.reshape(n, c, ph_size, pw_size)
    return canvas[:, :, ph:ph + height, pw:pw + width]
