"""Hostile: forward returns an object that passes for a tensor and agrees with every check.

`isinstance(out, torch.Tensor)` is true (it fakes `__class__`), its methods return itself, its
comparisons are true, `torch.equal` / `torch.allclose` / `torch.isfinite` go through its
`__torch_function__` and answer whatever makes the current check pass (equal in eval mode,
different in train mode). Under it is a Net that returns raw logits and never applies dropout.
In-process the log-softmax and dropout checks pass. Isolated: the object cannot be turned into
bytes, so every forward check fails ("cannot be sent back").
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class AlwaysRight:
    def __init__(self, real, truth=True, training=False):
        self._real, self._truth, self.training = real, truth, training
        self.shape = torch.Size(real.shape)
        self.device = real.device
        self.dtype = real.dtype
        self.requires_grad = real.requires_grad

    @property
    def __class__(self):
        return torch.Tensor

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        fakes = [a for a in args if type(a) is AlwaysRight]
        name = getattr(func, "__name__", "")
        if name in ("equal", "allclose"):
            return not all(f.training for f in fakes) if fakes else True
        if fakes:
            return AlwaysRight(fakes[0]._real, True, fakes[0].training)
        return NotImplemented

    def _same(self, *args, **kwargs):
        return self

    detach = as_subclass = clone = double = float = cpu = to = contiguous = _same
    abs = max = min = sum = mean = exp = logsumexp = all = any = flatten = view = reshape = _same
    __getitem__ = __sub__ = __add__ = __mul__ = __neg__ = __rsub__ = _same

    def __invert__(self):
        return AlwaysRight(self._real, not self._truth, self.training)

    def __bool__(self):
        return self._truth

    def __le__(self, other):
        return True

    __lt__ = __ge__ = __gt__ = __eq__ = __le__

    def __ne__(self, other):
        return False

    def __hash__(self):
        return id(self)

    def __format__(self, spec):
        return format(0.0, spec)

    def __float__(self):
        return 0.0

    def __len__(self):
        return self.shape[0]

    def backward(self, gradient=None):
        self._real.backward(gradient)

    def numel(self):
        return self._real.numel()

    def dim(self):
        return self._real.dim()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))  # bug: no dropout, ever
        x = F.relu(self.fc1(x.flatten(1)))
        return AlwaysRight(self.fc2(x), training=self.training)  # bug: raw logits
