"""Hostile: takes over the pytest run that grades it, from the student file.

While the file loads, it looks for pytest in the process: it turns `pytest.fail`,
`_pytest.outcomes.fail` and cnngrade's `fail` / `expect` (in every module that imported them)
into no-ops, and registers a hook wrapper on the running session's plugin manager that rewrites
every test report to "passed". The Net itself is wrong: softmax output and dropout active in eval
mode. In-process every check passes. Isolated: there is no pytest session in the child, and the
parent's is untouched, so the Net's real bugs fail their checks.
"""

import gc
import sys

import torch.nn as nn
import torch.nn.functional as F


def _no_op(*args, **kwargs):
    return None


def _take_over_pytest():
    try:
        import _pytest.outcomes
        import pytest
    except ImportError:
        return "no pytest"
    feedback = sys.modules.get("cnngrade.grader.feedback")
    originals = {id(getattr(feedback, "fail", None)), id(getattr(feedback, "expect", None)), id(pytest.fail)}
    for module in list(sys.modules.values()):
        for name in ("fail", "expect"):
            try:
                if id(module.__dict__.get(name)) in originals:
                    setattr(module, name, _no_op)
            except Exception:  # noqa: BLE001 - odd modules
                pass
    _pytest.outcomes.fail = _no_op
    pytest.fail = _no_op

    class Passer:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(self, item, call):
            report = yield
            report.outcome = "passed"
            report.longrepr = None
            return report

    configs = [o for o in gc.get_objects() if type(o).__name__ == "Config" and hasattr(o, "pluginmanager")]
    for config in configs:
        try:
            config.pluginmanager.register(Passer(), f"passer-{id(config)}")
        except ValueError:
            pass
    return f"{len(configs)} sessions taken over"


class Net(nn.Module):
    taken_over = _take_over_pytest()

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
        x = F.dropout(x, training=True)  # bug: dropout also in eval mode
        return F.softmax(self.fc2(x), dim=1)  # bug: probabilities, not log-probabilities
