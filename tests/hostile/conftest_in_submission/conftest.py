"""Hostile: a conftest.py in the submission directory, hoping pytest loads it while grading.

If it ever ran in a grading run (a pytest command line with --submission) it would leave a marker
file in the system temp directory, turn every report into a pass and deselect the log-softmax
check. (It does nothing when cnngrade's own test suite happens to collect this directory.)
"""

import pathlib
import sys
import tempfile

import pytest

GRADING = any(a.startswith("--submission") for a in sys.argv)

if GRADING:
    pathlib.Path(tempfile.gettempdir(), "cnngrade-hostile-conftest-ran").write_text("a submission's conftest.py ran\n")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item, call):
        report = yield
        report.outcome = "passed"
        report.longrepr = None
        return report

    def pytest_collection_modifyitems(config, items):
        items[:] = [i for i in items if "log_softmax" not in i.name]
