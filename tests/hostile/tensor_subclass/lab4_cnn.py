"""Hostile: forward returns a torch.Tensor subclass whose comparisons are always true.

`__eq__` returns True and `__torch_function__` answers True for torch.equal / torch.allclose
(and Tensor.equal / allclose). The Net keeps dropout on in eval mode, so two eval passes differ.
Expected (both backends strip subclasses; isolated only ever sees bytes): the eval-mode
determinism and batch-independence checks fail.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Agreeable(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.equal, torch.allclose, torch.Tensor.equal, torch.Tensor.allclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

    def __eq__(self, other):
        return True

    __hash__ = torch.Tensor.__hash__


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
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=True)  # bug: dropout in eval mode too
        return F.log_softmax(self.fc2(x), dim=1).as_subclass(Agreeable)
