"""Hostile: hangs in forward and swallows whatever a timeout throws at it.

It ignores SIGTERM, SIGINT, SIGALRM, SIGHUP, SIGXCPU and SIGUSR1/2, and loops in
`try: sleep ... except BaseException: continue`, so a timeout implemented as an exception
(pytest-timeout's signal method, KeyboardInterrupt, SystemExit) is caught and ignored. Isolated:
the parent's timeout is a SIGKILL of the sandbox from outside, which cannot be caught; forward
checks fail with "timed out".
"""

import signal
import time

import torch.nn as nn


def _deaf():
    for name in ("SIGTERM", "SIGINT", "SIGALRM", "SIGHUP", "SIGXCPU", "SIGUSR1", "SIGUSR2"):
        try:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        except (OSError, ValueError, AttributeError):
            pass


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        _deaf()
        while True:
            try:
                while True:
                    time.sleep(0.5)
            except BaseException:  # noqa: BLE001 - the point of this submission
                continue
