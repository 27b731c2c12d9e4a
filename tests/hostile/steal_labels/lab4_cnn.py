"""Hostile: finds the held-out test labels on disk and "predicts" them.

While the file loads it searches for MNIST test labels: the bundled npz of the installed cnngrade
package (found through `import cnngrade`), the repository's copy, caches, Debian's datasets and the
working directories of every process in /proc. It indexes the test images by their bytes; in eval
mode forward recognises a test image and returns its true label. Its own network returns softmax
probabilities instead of log-probabilities, so under the harness's recipe it learns poorly.
In-process it reaches 100% accuracy. Isolated: no labels are visible, the network is trained and
graded as it is: the accuracy check fails, and the log-softmax check fails too.
"""

import glob
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.1307, 0.3081


def _candidates():
    try:
        import cnngrade

        yield from glob.glob(os.path.join(os.path.dirname(cnngrade.__file__), "data", "*.npz"))
    except ImportError:
        pass
    places = [os.getcwd(), "/work/main", os.path.expanduser("~")]
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            places.append(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            pass
    for place in places:
        yield from glob.glob(os.path.join(place, "cnngrade", "data", "*.npz"))
    yield from glob.glob(os.path.expanduser("~/.cache/cnngrade/**/*.npz"), recursive=True)


def _steal():
    table = {}
    for path in _candidates():
        try:
            with np.load(path) as data:
                if "test_images" in data.files and "test_labels" in data.files:
                    for image, label in zip(data["test_images"], data["test_labels"]):
                        table[image.tobytes()] = int(label)
        except Exception:  # noqa: BLE001
            continue
    return table


class Net(nn.Module):
    labels = _steal()

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        y = F.relu(F.max_pool2d(self.conv1(x), 2))
        y = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(y)), 2))
        y = F.relu(self.fc1(y.flatten(1)))
        y = F.dropout(y, training=self.training)
        out = F.softmax(self.fc2(y), dim=1)  # bug: probabilities, not log-probabilities
        if not self.training and self.labels:
            pixels = ((x[:, 0] * STD + MEAN) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
            for i, image in enumerate(pixels):
                label = self.labels.get(image.tobytes())
                if label is not None:
                    out[i] = 0.0
                    out[i, label] = 1.0
        return out
