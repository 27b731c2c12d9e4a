"""Hostile: caches outputs by input bytes, to look fast when a grader repeats inputs.

The first call for a batch computes it; every later call with the same bytes returns the cached
answer without running the network, whatever the mode, seed or weights. Expected: the cache gives
itself away: when the grader sets the parameters to values of its own the output does not change, so
no layer and no parameter counts, and no parameter gets a gradient.
"""

import torch.nn as nn
import torch.nn.functional as F

_cache = {}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        key = (tuple(x.shape), x.detach().cpu().numpy().tobytes())
        if key in _cache:
            return _cache[key].clone()
        y = F.relu(F.max_pool2d(self.conv1(x), 2))
        y = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(y)), 2))
        y = F.relu(self.fc1(y.flatten(1)))
        y = F.dropout(y, training=self.training)
        out = F.log_softmax(self.fc2(y), dim=1)
        _cache[key] = out.detach()
        return out
