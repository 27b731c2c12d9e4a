"""Hostile: a correct Net, 20 times slower on input it has not seen, that caches outputs by input bytes.

From a Net's 6th eval-mode call on (so that the checks of single forward passes, which make at most
5 calls on a Net, stay fast to grade), forward computes the output of a batch it has not seen and
then sleeps 20 times as long as that took (at least 40 ms); the output is cached by the Net under the
batch's bytes, and a batch seen before is answered from the cache at once. A grader that measures
again, after rounds that disagree (as a busy machine makes them), on the batches it timed before
times cache hits and passes it. Expected: every call of the speed check gets a batch never seen, so every measurement is
slow and the speed check fails ("images/s"); every other check passes.
"""

import time

import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.cache = {}
        self.calls = 0

    def compute(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)

    def forward(self, x):
        if self.training:
            return self.compute(x)
        self.calls += 1
        key = (tuple(x.shape), x.detach().cpu().numpy().tobytes())
        if key not in self.cache:
            start = time.perf_counter()
            self.cache[key] = self.compute(x).detach()
            if self.calls > 5:
                time.sleep(max(20 * (time.perf_counter() - start), 0.04))
        return self.cache[key].clone()
