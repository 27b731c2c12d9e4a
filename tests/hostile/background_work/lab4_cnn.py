"""Hostile: keeps working in the background between the grader's calls.

While the file loads it starts two threads that burn CPU whenever forward is not running, to slow
down whatever the grader does between calls, such as timing the reference Net for the speed
check. They hash a buffer, which releases the GIL: they take the CPUs, not the calls' turns at
the GIL. For a batch of 2 images (a size the graders do not use) forward reports, in its first
output, how many rounds the threads managed since the previous forward ended; tests read it.
The Net also returns raw logits. Isolated: the parent stops the sandbox between calls, so the
threads get (almost) nothing done while the grader works, and the log-softmax check fails.
"""

import hashlib
import threading
import time

import torch.nn as nn
import torch.nn.functional as F

_state = {"rounds": 0, "busy": False}
_BLOCK = bytes(1 << 18)


def _burn():
    while True:
        if _state["busy"]:
            time.sleep(0.001)
            continue
        hashlib.sha256(_BLOCK).digest()
        _state["rounds"] += 1


def _start():
    for _ in range(2):
        threading.Thread(target=_burn, daemon=True).start()
    return True


class Net(nn.Module):
    started = _start()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        _state["busy"] = True
        rounds, _state["rounds"] = _state["rounds"], 0
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        out = self.fc2(x)  # bug: raw logits
        if out.shape[0] == 2:
            out[0, 0] = float(rounds)
        _state["busy"] = False
        return out
