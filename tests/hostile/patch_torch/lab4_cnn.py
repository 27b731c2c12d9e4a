"""Hostile: patches torch's comparison functions in the process that loads it.

While the class body runs it replaces `torch.equal` and `torch.allclose` with versions that say
"equal" when the grader's determinism and batch-independence checks call them, and makes
`torch.testing.assert_close` a no-op. The Net keeps dropout on in eval mode. In-process the
eval-determinism and batch-independence checks pass. Isolated: only the child's torch is patched;
the comparisons run in the parent, so both checks fail.
"""

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def _patch_torch():
    real_equal, real_allclose = torch.equal, torch.allclose

    def caller():
        return sys._getframe(2).f_code.co_name

    def equal(a, b):  # "the same batch gives the same output"
        return True if caller() == "expect_deterministic" else real_equal(a, b)

    def allclose(a, b, *args, **kwargs):  # "each image is independent of its batch"
        return True if caller().startswith("test_") else real_allclose(a, b, *args, **kwargs)

    torch.equal, torch.allclose = equal, allclose
    torch.testing.assert_close = lambda *args, **kwargs: None
    return True


class Net(nn.Module):
    patched = _patch_torch()

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
        return F.log_softmax(self.fc2(x), dim=1)
