"""Every submission the tests grade, and the grading processes they share: the corpus manifest.

Submissions that need the same grader files, options and environment form a :class:`Group`, graded in
one ``python -m pytest graders --submission A --submission B ...`` process (the plugin grades several
submissions per run), so that a submission is graded once per test session and the tests assert many
things on its results. A group starts in the background as soon as collection shows that a selected
test needs it (``@pytest.mark.grades("group")``), :data:`WORKERS` at a time, longest first, while the
unit tests run; a test that asks for its results waits for them.

Groups that grade the same reference code in different ways (in-process, isolated, as a notebook, with
another lab.toml) are different gradings, not repeats: each tests a different path.

Other long work that tests share (a class graded by ``cnngrade batch``, an autograder run) is a
:class:`Job`, registered by its test module with :func:`background` and started, marked and read
like a group, so that it runs beside the gradings instead of after them in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cnngrade.batch.warm import WarmRunner
from cnngrade.grader.invocation import Grade, Runner, run_fresh, run_graders_on_each
from cnngrade.submission.isolated import cgroups
from tests.cifar_data import write_cifar10_like
from tests.host import host_state
from tests.mutation import mutate
from tests.paths import ROOT, TESTS

REFERENCE = ROOT / "reference"
#: the other labs (labs/), and buggy submissions of each (tests/labs/LAB/)
LABS = ROOT / "labs"
LAB_BUGGY = TESTS / "labs"
#: the checks the report CNN's submissions get in the test suite: its full grading (one forward pass of
#: its 16-million-parameter net costs about 10 GFLOP an image; the parameter count check's 16 passes
#: alone take 30 s here) is benchmarks/test_lab_gradings.py's
REPORT_CNN_CHECKS = "test_net_builds or test_output_shape or test_architecture"
BUGGY = TESTS / "buggy"
BUGGY_MODEL = TESTS / "buggy_model"
#: correct Nets written in other ways than the reference
CORRECT_DIR = TESTS / "correct"
NOTEBOOKS = TESTS / "buggy_notebooks"
HOSTILE = TESTS / "hostile"
#: grading processes run side by side (the machine has 2 cores and the unit tests run beside them,
#: but gradings spend much of their time waiting: on sandboxed children, hanging submissions' time
#: limits, sleeps)
WORKERS = 3

NET_GRADERS = ("test_1_structure.py", "test_2_forward.py")
MODEL_GRADERS = ("test_6_device.py", "test_7_accuracy.py", "test_8_speed.py")
PART_GRADERS = ("test_3_pooling.py", "test_4_conv_math.py", "test_5_questions.py")
#: the checks hostile submissions get (not the device checks: their forward on torch's `meta` device
#: costs each sandboxed child more than a second of importing sympy, and no attack aims at them)
HOSTILE_NET_GRADERS = ("test_1_structure.py", "test_2_forward.py")
#: a short call limit for hostile submissions, and one restart
HOSTILE_ENV = {"CNNGRADE_CALL_TIMEOUT": "10", "CNNGRADE_MAX_RESTARTS": "1"}
#: the hanging ones run into their limit on every call: given on the command line (an honest call of
#: the Net checks takes milliseconds), and no restart
HANGING_TIMEOUT = 3
HANGING_ENV = {"CNNGRADE_MAX_RESTARTS": "0"}

Submissions = Callable[[Path], list[Path]]


@dataclass(frozen=True)
class Group:
    """Submissions graded together: ``submissions(scratch)`` lists (or writes into ``scratch``, a
    directory of the group's own) their paths; the run uses ``files`` of graders/ (all when empty),
    ``options`` and ``env``, with ``cwd`` (``scratch`` when None) as its working directory. ``cost``:
    its seconds in a suite run here (measured), for starting the longest first."""

    submissions: Submissions
    files: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cost: float = 10.0
    #: graded through ``cnngrade grade`` (``options`` are its options) instead of ``pytest graders``
    command: bool = False
    cwd: Path | None = None

    @property
    def isolated(self) -> bool:
        return "--isolated" in self.options or (self.command and "--in-process" not in self.options)


def listed(*paths: Path) -> Submissions:
    return lambda scratch: list(paths)


# --------------------------------------------------------------------------- generated submissions


def reference_with(scratch: Path, name: str, file: str, text: str) -> Path:
    """A copy of the reference's .py files in ``scratch/name``, with ``file`` replaced by ``text``."""
    directory = scratch / name
    directory.mkdir()
    for path in REFERENCE.glob("*.py"):
        shutil.copy(path, directory)
    (directory / file).write_text(text)
    return directory


TORCH_POOLING = '''import torch.nn.functional as F


def max_pool2d(x, kernel_size, stride=None, padding=0):
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = F.max_pool2d(flat, kernel_size, stride, padding)
    return out.reshape(*x.shape[:-2], *out.shape[-2:])


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = F.avg_pool2d(flat, kernel_size, stride, padding)
    return out.reshape(*x.shape[:-2], *out.shape[-2:])
'''

#: answers.py of the custom_lab group: right answers in every form the reference's value may take, and
#: wrong ones of the same and of another form (WIKI_MLP_PARAMS, REPORT_SIGMOID, ... left unanswered)
ANSWERS = '''import numpy as np
import torch

# right, in another form than the reference's (a flat list of 4 floats, 3x3 and 2x2 nested lists of
# floats, a float, ints, a list of 3 ints)
Q6A_MAX_POOL = [[4, 5], [1, 3]]
Q6B_AVG_POOL = (2.5, 2.5, 0.5, 2)
WORKSHOP_MAX_POOL_2 = [4, 5, 4, 4, 3, 3, 4, 2, 4]
WORKSHOP_AVG_POOL_2 = np.array([[3.25, 3.0, 3.25], [3.25, 2.25, 2.75], [3.0, 2.0, 2.75]])
WORKSHOP_MAX_POOL_3 = torch.tensor([[4, 5], [4, 4]])
WORKSHOP_CONV_OUTPUT = 3
REPORT_CONV1_PARAMS_GREY = 2560.0
REPORT_LARGEST_LAYER = " FC1 "
NOTES_FLATTEN_SHAPE = torch.Size([32, 16, 16])
NOTES_CIFAR_CNN_PARAMS = np.int64(4210090)
NOTES_MLP_PARAMS = torch.tensor(221)
# wrong: the seed's count (revealed by custom_lab's lab.toml), fc3's bias forgotten (within 0.1%, but
# a count is exact), a number as a string, 2 of the 6 shapes, 3 numbers for a 2x2 matrix
REPORT_CONV1_PARAMS_RGB = 1768
REPORT_TOTAL_PARAMS = 16154944
LAB_NET_PARAMS = "21840"
REPORT_SHAPES = [[256, 256, 256], [256, 128, 128]]
REPORT_MAX_POOL = [0.3092, 0.2652, 0.6069]
'''


#: pooling.py's max_pool2d with its windows and their maximum made in other ways
MAX_WINDOWS = """windows = padded.unfold(1, kh, sh).unfold(2, kw, sw)
    windows = windows.reshape(planes.shape[0], h_out, w_out, kh * kw)"""
MAX_OF_WINDOWS = """best = windows.argmax(dim=-1, keepdim=True)
    out = windows.gather(-1, best).squeeze(-1)"""
#: pooling.py's avg_pool2d with its windows and their mean made in other ways
AVG_WINDOWS = "windows = padded.unfold(1, kh, sh).unfold(2, kw, sw)  # (planes, h_out, w_out, kh, kw)"
AVG_OF_WINDOWS = "out = windows.sum(dim=(-2, -1)) / (kh * kw)  # padding counts in the divisor"


def pooling_cheats(pooling: str) -> dict[str, str]:
    """pooling.py's reference with torch's operators underneath, one forbidden family each (the
    template's "from scratch"); each computes the right values. (Torch's own max_pool2d and avg_pool2d
    on the whole input: TORCH_POOLING.)"""
    def both(max_changes: dict[str, str], avg_changes: dict[str, str]) -> str:
        return mutate(mutate(pooling, "max_pool2d", max_changes), "avg_pool2d", avg_changes)

    return {
        # the windows by F.unfold (aten.im2col), not Tensor.unfold
        "pool_by_im2col": both(
            {MAX_WINDOWS: "windows = torch.nn.functional.unfold(padded.unsqueeze(1), (kh, kw), stride=(sh, sw))\n"
                          "    windows = windows.transpose(1, 2).reshape(planes.shape[0], h_out, w_out, kh * kw)"},
            {AVG_WINDOWS: "windows = torch.nn.functional.unfold(padded.unsqueeze(1), (kh, kw), stride=(sh, sw))\n"
                          "    windows = windows.transpose(1, 2).reshape(planes.shape[0], h_out, w_out, kh, kw)"}),
        # each window's maximum by adaptive pooling to one value, its mean by F.avg_pool2d over the window
        # (adaptive average pooling to one value is not caught: torch runs it as aten.mean)
        "pool_each_window": both(
            {MAX_OF_WINDOWS: "out = torch.nn.functional.adaptive_max_pool2d(windows.reshape(-1, 1, 1, kh * kw), 1)\n"
                             "    out = out.reshape(windows.shape[:3])"},
            {AVG_OF_WINDOWS: "out = torch.nn.functional.avg_pool2d(windows.reshape(-1, 1, kh, kw), (kh, kw))\n"
                             "    out = out.reshape(windows.shape[:3])"}),
        # nn.MaxPool2d / nn.AvgPool2d modules on the padded planes
        "pooling_modules": both(
            {MAX_WINDOWS: "windows = None", MAX_OF_WINDOWS: "out = torch.nn.MaxPool2d((kh, kw), (sh, sw))("
                                                            "padded.unsqueeze(1)).squeeze(1)"},
            {AVG_WINDOWS: "windows = None", AVG_OF_WINDOWS: "out = torch.nn.AvgPool2d((kh, kw), (sh, sw))("
                                                            "padded.unsqueeze(1)).squeeze(1)"}),
    }


def pooling_variants(scratch: Path) -> list[Path]:
    """The reference with one bug in its pooling each, and with torch's pooling underneath."""
    pooling = (REFERENCE / "pooling.py").read_text()
    return [
        reference_with(scratch, "torch_pooling", "pooling.py", TORCH_POOLING),
        *(reference_with(scratch, name, "pooling.py", text) for name, text in pooling_cheats(pooling).items()),
        reference_with(scratch, "stride_ignored", "pooling.py", mutate(pooling, "max_pool2d", {
            'sh, sw = (kh, kw) if stride is None else pair(stride, "stride")': "sh, sw = kh, kw"})),
        reference_with(scratch, "avg_ignores_padding", "pooling.py", mutate(pooling, "avg_pool2d", {
            "windows.sum(dim=(-2, -1)) / (kh * kw)": "windows.sum(dim=(-2, -1)) / (kh * kw - 2 * ph * pw)"})),
    ]


def conv_math_cheats(conv_math: str) -> dict[str, str]:
    """conv_math.py's reference with torch's operators underneath, one forbidden family each; each
    computes the right values. (F.unfold for unfold: torch_unfold.)"""
    return {
        # fold's sum of patches by F.fold (aten.col2im)
        "torch_fold": mutate(conv_math, "fold", {
            "canvas = patches.new_zeros((n, c, ph_size * pw_size))": "return torch.nn.functional.fold(patches, "
                                                                    "(height, width), (kh, kw), stride=(sh, sw), "
                                                                    "padding=(ph, pw))"}),
        # the convolution by F.conv2d (aten.convolution)
        "torch_conv2d": mutate(conv_math, "conv2d_unfold", {
            "columns = unfold(x, (kh, kw), stride, padding)  # (n, c*kh*kw, L)":
                "return torch.nn.functional.conv2d(x, weight, bias, (sh, sw), (ph, pw))"}),
    }


def conv_math_variants(scratch: Path) -> list[Path]:
    """The reference with one bug in its conv math each, and with torch's operators underneath."""
    conv_math = (REFERENCE / "conv_math.py").read_text()
    return [
        *(reference_with(scratch, name, "conv_math.py", text) for name, text in conv_math_cheats(conv_math).items()),
        reference_with(scratch, "torch_unfold", "conv_math.py", conv_math + (
            "\n\nimport torch.nn.functional as F\n\n\ndef unfold(x, kernel_size, stride=1, padding=0):\n"
            "    return F.unfold(x, kernel_size, stride=stride, padding=padding)\n")),
        reference_with(scratch, "off_by_one_size", "conv_math.py", conv_math + (
            "\n\ndef conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):\n"
            "    return (size + 2 * padding - dilation * (kernel_size - 1)) // stride\n")),
    ]


def custom_lab(scratch: Path) -> list[Path]:
    """A lab.toml that overrides points, reveals one question's answer (REPORT_CONV1_PARAMS_RGB) and sets
    a parameter budget, and the submission graded with it: the reference's Net and parts with ANSWERS
    as its answers.py."""
    config = (ROOT / "graders" / "lab.toml").read_text()
    config = config.replace("[points]\n", "[points]\ntest_net_builds = 7\n")
    config = config.replace("expected_parameters = 21840", "parameter_budget = [20000, 25000]")
    assert config.count("\nreveal = []\n") == 1, "lab.toml's [questions] reveal changed"
    config = config.replace("\nreveal = []\n", '\nreveal = ["REPORT_CONV1_PARAMS_RGB"]\n')
    (scratch / "lab.toml").write_text(config)
    return [reference_with(scratch, "answers", "answers.py", ANSWERS)]


class Payload:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the pickle ran code"))


def model_variants(scratch: Path) -> list[Path]:
    """The reference's Net with a model.pt that is wrong in one way each."""
    import pickle

    from cnngrade.submission.inprocess import InProcessSubmission

    def with_model(name: str, state: object) -> Path:
        directory = scratch / name
        directory.mkdir()
        shutil.copy(REFERENCE / "lab4_cnn.py", directory)
        torch.save(state, directory / "model.pt")
        return directory

    wrong_keys = torch.load(REFERENCE / "model.pt", weights_only=True)
    wrong_keys["fc3.weight"] = wrong_keys.pop("fc2.weight")
    wrong_keys["fc1.bias"] = torch.zeros(7)
    handle = InProcessSubmission(REFERENCE)
    handle.build_net(seed=123)
    pickled = with_model("pickle_payload", {})
    with open(pickled / "model.pt", "wb") as f:
        pickle.dump({"conv1.weight": Payload(scratch / "payload-ran")}, f)
    # the reference's trained model.pt, with a Net whose output is (N, 10, 1)
    extra_dimension = with_model("extra_dimension", {})
    shutil.copy(REFERENCE / "model.pt", extra_dimension)
    source = (REFERENCE / "lab4_cnn.py").read_text()
    assert source.count("return F.log_softmax(x, dim=1)\n") == 1, "the reference's forward changed"
    (extra_dimension / "lab4_cnn.py").write_text(
        source.replace("return F.log_softmax(x, dim=1)\n", "return F.log_softmax(x, dim=1).unsqueeze(-1)\n"))
    return [with_model("wrong_keys", wrong_keys), with_model("random_weights", handle.net.state_dict()), pickled,
            with_model("whole_module", torch.nn.Linear(2, 2)), with_model("a_list", [torch.zeros(1)]),
            extra_dimension]


def reference_notebook(scratch: Path) -> list[Path]:
    import nbformat

    from cnngrade.lab.release import script_to_notebook

    notebook = scratch / "lab4_reference.ipynb"
    nbformat.write(script_to_notebook((REFERENCE / "lab4_cnn.py").read_text()), notebook)
    return [notebook]


def slow_lab(scratch: Path) -> list[Path]:
    config = (ROOT / "graders" / "lab.toml").read_text()
    (scratch / "lab.toml").write_text(config.replace("max_cpu_seconds = 120", "max_cpu_seconds = 2"))
    return [BUGGY_MODEL / "slow_loop"]


# --------------------------------------------------------------------------- feedback (tests/test_feedback.py)


def first_attempt(scratch: Path) -> list[Path]:
    """The reference with a first attempt's mistakes: pooling takes an omitted stride as 1 (not
    kernel_size); conv_output_size is off by one while unfold, fold and conv2d_unfold call it; Net's
    log_softmax has no dim (right for a batch, but torch warns on every forward)."""
    net = (REFERENCE / "lab4_cnn.py").read_text()
    assert net.count("return F.log_softmax(x, dim=1)") == 1
    pooling = (REFERENCE / "pooling.py").read_text()
    for function in ("max_pool2d", "avg_pool2d"):
        pooling = mutate(pooling, function, {'sh, sw = (kh, kw) if stride is None else pair(stride, "stride")':
                                             'sh, sw = (1, 1) if stride is None else pair(stride, "stride")'})
    conv_math = mutate((REFERENCE / "conv_math.py").read_text(), "conv_output_size", {
        "return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1":
        "return (size + 2 * padding - dilation * (kernel_size - 1)) // stride + 1"})
    for function in ("unfold", "fold", "conv2d_unfold"):
        conv_math = mutate(conv_math, function, {
            "h_out = (height + 2 * ph - kh) // sh + 1\n    w_out = (width + 2 * pw - kw) // sw + 1":
            "h_out, w_out = conv_output_size((height, width), (kh, kw), (sh, sw), (ph, pw))"})
    directory = reference_with(scratch, "first_attempt", "pooling.py", pooling)
    (directory / "conv_math.py").write_text(conv_math)
    (directory / "lab4_cnn.py").write_text(net.replace("return F.log_softmax(x, dim=1)", "return F.log_softmax(x)"))
    return [directory]


# --------------------------------------------------------------------------- the groups

#: buggy Nets whose bug the accuracy / speed / device checks must also catch (graded with every Net
#: and model check, once); the other buggy Nets get the Net checks only
MODEL_BUGGY = ("softmax", "frozen_layer")
MODEL_ONLY = ("ignores_input", "hardcoded_cuda")
#: hostile submissions that hang: graded side by side with the others
HANGING = ("infinite_loop", "swallow_timeout", "fork_bomb")
#: hostile submissions aimed at the trained-model and speed checks, and at the accuracy check
HOSTILE_MODEL = ("patch_clock", "model_pt_pickle", "memoise_slow", "warmup_only", "batch_size_detect")
#: hostile submissions aimed at the device checks (graded with those alone)
HOSTILE_DEVICE = ("lie_device",)
#: hostile submissions aimed at the "written from scratch" checks (graded with those alone)
HOSTILE_PARTS = ("lie_ops",)
HOSTILE_LEARNS = ("steal_labels",)
#: hostile submissions graded only where a cgroup caps the memory of all the child's processes
#: (cnngrade/submission/isolated/cgroups.py): elsewhere fork_allocate would take 16 GiB of the machine
MEMORY_CAPPED = ("fork_allocate",)
#: hostile submissions safe to grade unsandboxed, to show that they forge passes there, with the checks
#: they forge, graded alone (a forged run forges every submission in it) on those checks only. (Also
#: safe, and forged in-process when tried: patch_builtins, steal_reference, patch_clock; left out.)
FORGED_IN_PROCESS: dict[str, tuple[str, ...]] = {
    "symlink_reference": ("test_net_builds", "test_log_softmax"),
    "patch_torch": ("test_eval_deterministic", "test_batch_independence"),
    "pytest_hooks": ("test_log_softmax", "test_eval_deterministic"),
    "forge_results": ("test_log_softmax",),
    "fake_tensor": ("test_log_softmax", "test_eval_deterministic"),
}


def _buggy_net(scratch: Path) -> list[Path]:
    directories = sorted(p for p in BUGGY.iterdir() if p.is_dir() and p.name not in MODEL_BUGGY)
    correct = sorted(p for p in CORRECT_DIR.iterdir() if p.is_dir())
    return [*directories, *correct, *sorted(NOTEBOOKS.glob("*.ipynb")), *reference_notebook(scratch)]


def _hostile(names: Callable[[str], bool]) -> list[Path]:
    return sorted(p for p in HOSTILE.iterdir() if p.is_dir() and names(p.name))


def lab_submissions(lab: str) -> Submissions:
    """A lab's reference, its templates and its buggy submissions (tests/labs/LAB/)."""
    buggy = sorted(p for p in (LAB_BUGGY / lab).iterdir() if p.is_dir())
    return listed(LABS / lab / "reference", LABS / lab / "student_templates", *buggy)


#: the checks the CIFAR-10 lab's buggy submissions get (each fails one of them; the net that starts from
#: zero weights passes those of what it computes and fails "learns")
CIFAR_NET_CHECKS = ("test_parameter_count or test_architecture or test_dropout_placement or "
                    "((test_every_parameter_gets_gradient or test_learns) and zeros_init)")
#: where a CIFAR-10 lab group writes its generated dataset (torchvision's layout), in its scratch folder
CIFAR_DATA = "cifar10-data"


def cifar_submissions(full: bool) -> Submissions:
    """The CIFAR-10 lab's submissions, after writing the small generated CIFAR-10 (tests/cifar_data.py)
    into the group's scratch folder: with ``full``, its reference and templates (graded on every check),
    else its buggy ones."""
    def submissions(scratch: Path) -> list[Path]:
        write_cifar10_like(scratch / CIFAR_DATA)
        everything = lab_submissions("cifar10-cnn")(scratch)
        return [p for p in everything if (p.parent.parent == LABS) == full]
    return submissions


def hostile_half(half: int) -> list[Path]:
    """Every other one of the hostile submissions that no other group grades (two groups, side by side)."""
    return _hostile(lambda n: n not in HANGING + HOSTILE_MODEL + HOSTILE_LEARNS + HOSTILE_DEVICE + HOSTILE_PARTS
                                   + MEMORY_CAPPED)[half::2]


GROUPS: dict[str, Group] = {
    # the reference and the blank templates, with every check
    # (graded as a student runs `pytest graders --submission reference`: -v undoes the -q of gradings)
    # (from the project's root, as the student does: pytest prints the grader files' paths relative to
    # it, and a long path, such as ../../../check/work/main/graders/..., wraps the progress lines)
    "reference": Group(listed(REFERENCE), options=("-v",), cost=48, cwd=ROOT),  # the first top-level test reads it
    "templates": Group(listed(ROOT / "student_templates", ROOT / "student_templates" / "lab4.ipynb"), cost=16),
    # the reference through `cnngrade grade`, sandboxed by default (tests/test_backend_choice.py)
    # buggy Nets: the Net checks; those with a bug the model checks see: every Net and model check
    "buggy_net": Group(_buggy_net, files=NET_GRADERS, cost=21),
    "buggy_model": Group(listed(*(BUGGY / n for n in MODEL_BUGGY)), files=NET_GRADERS + MODEL_GRADERS, cost=49),
    # (hardcoded_cuda's bug is the device checks' business: its training, on the CPU, is left out)
    "model_only": Group(listed(*(BUGGY_MODEL / n for n in MODEL_ONLY)), files=NET_GRADERS + MODEL_GRADERS,
                        options=("-k", "not (test_learns and hardcoded_cuda)"), cost=19),
    "buggy_device": Group(listed(BUGGY_MODEL / "unregistered_tensor"), files=("test_6_device.py",), cost=3),
    "slow_loop": Group(slow_lab, files=("test_7_accuracy.py", "test_8_speed.py"),
                       options=("--lab-config=lab.toml", "-k", "learns or speed"), cost=14),
    "run_all_code": Group(listed(NOTEBOOKS / "trains_and_downloads.ipynb"), files=NET_GRADERS,
                          options=("--run-all-code",), cost=7),
    "model_files": Group(model_variants, files=("test_7_accuracy.py",), options=("-k", "trained_model"), cost=5),
    # lab parts: one bug each in pooling or conv math (the answers graded too: they use both); answers
    # of every form, graded with a lab.toml of its own
    "lab_pooling": Group(pooling_variants, files=("test_3_pooling.py", "test_5_questions.py"), cost=22),
    "lab_conv_math": Group(conv_math_variants, files=("test_4_conv_math.py", "test_5_questions.py"), cost=36),
    "custom_lab": Group(custom_lab, files=("test_1_structure.py", "test_5_questions.py"),
                        options=("--lab-config=lab.toml",), cost=2),
    # `cnngrade grade --in-process` where no sandbox works (tests/test_backend_choice.py)
    "softmax_command": Group(listed(BUGGY / "softmax"), command=True, env={"CNNGRADE_SANDBOX": "none"},
                             options=("--in-process", "--", "-k", "log_softmax or net_builds"), cost=1),
    # hostile submissions, isolated; the reference before and after them
    "hostile": Group(lambda scratch: [REFERENCE, *hostile_half(0), REFERENCE], files=HOSTILE_NET_GRADERS,
                     options=("--isolated", "--junitxml=junit.xml"), env=HOSTILE_ENV, cost=47),
    "hostile_2": Group(lambda scratch: hostile_half(1), files=HOSTILE_NET_GRADERS,
                       options=("--isolated", "--junitxml=junit.xml"), env=HOSTILE_ENV, cost=42),
    # graded alone, side by side with the others, only where a cgroup caps their memory: under a 1 GiB cap
    # (the default 4 GiB one, measured, peaks at 4 GiB too: a lower cap only spares the machine the
    # paging), with no restart
    **({"hostile_memory": Group(lambda scratch: _hostile(lambda n: n in MEMORY_CAPPED), files=("test_1_structure.py",),
                                options=("--isolated",), cost=11,
                                env={**HOSTILE_ENV, "CNNGRADE_MAX_RESTARTS": "0", "CNNGRADE_MEMORY_LIMIT": "1G",
                                     # filling 1 GiB takes seconds where the machine is busy (and swaps)
                                     "CNNGRADE_CALL_TIMEOUT": "60"})}
       if not isinstance(cgroups.hierarchy(), str) else {}),
    "hostile_hanging": Group(lambda scratch: _hostile(lambda n: n in HANGING), files=HOSTILE_NET_GRADERS,
                             options=("--isolated", f"--call-timeout={HANGING_TIMEOUT}"), env=HANGING_ENV,
                             cost=23),
    "hostile_device": Group(lambda scratch: _hostile(lambda n: n in HOSTILE_DEVICE), files=("test_6_device.py",),
                            options=("--isolated",), env=HOSTILE_ENV, cost=5),
    "hostile_parts": Group(lambda scratch: _hostile(lambda n: n in HOSTILE_PARTS),
                           files=("test_3_pooling.py", "test_4_conv_math.py"),
                           options=("--isolated", "-k", "from_scratch"), env=HOSTILE_ENV, cost=5),
    "hostile_model": Group(lambda scratch: _hostile(lambda n: n in HOSTILE_MODEL),
                           files=(*HOSTILE_NET_GRADERS, "test_7_accuracy.py", "test_8_speed.py"),
                           options=("--isolated", "-k", "not test_learns"), env=HOSTILE_ENV, cost=59),
    "hostile_learns": Group(lambda scratch: _hostile(lambda n: n in HOSTILE_LEARNS),
                            files=(*HOSTILE_NET_GRADERS, "test_7_accuracy.py"), options=("--isolated",),
                            env=HOSTILE_ENV, cost=22),
    **{f"forged:{name}": Group(listed(HOSTILE / name), files=HOSTILE_NET_GRADERS, env=HOSTILE_ENV,
                               options=("-k", " or ".join(checks)), cost=1)
       for name, checks in FORGED_IN_PROCESS.items()},
    # the other labs (tests/test_labs.py): reference, templates and buggy submissions, graded with --lab
    # (the buggy MLPs are not trained nor timed: each fails a check of what it computes)
    "lab_mlp": Group(lab_submissions("mlp-mnist"), options=("--lab", str(LABS / "mlp-mnist"), "-k",
                                                            "not (test_learns or test_inference_speed) or reference or "
                                                            "student_templates"), cost=15),
    "lab_report": Group(lab_submissions("report-cnn"), options=("--lab", str(LABS / "report-cnn"), "-k",
                                                                REPORT_CNN_CHECKS), cost=40),
    "lab_cifar": Group(cifar_submissions(full=True), options=("--lab", str(LABS / "cifar10-cnn"), "--data-root",
                                                                  CIFAR_DATA), cost=23),
    # the binary MLP on the lab's own tabular data (tests/test_labs.py): every check but speed for the
    # buggy ones (training it takes a fraction of a second)
    "lab_pima": Group(lab_submissions("pima-mlp"), options=("--lab", str(LABS / "pima-mlp"), "-k",
                                                            "not test_inference_speed or reference"), cost=20),
    # the CIFAR-10 lab's reference where CIFAR-10 is not (an empty user cache; the lab's data_root does not
    # exist): its accuracy check skipped, saying how to get the data (tests/data/test_data_class_runs.py)
    "lab_cifar_no_data": Group(listed(LABS / "cifar10-cnn" / "reference"),
                               files=("test_1_structure.py", "test_7_accuracy.py"),
                               options=("--lab", str(LABS / "cifar10-cnn"), "--all-checks"),
                               env={"CNNGRADE_CACHE": "empty-cache"},
                               cost=6),
    "lab_cifar_net": Group(cifar_submissions(full=False), files=(*NET_GRADERS, "test_7_accuracy.py"),
                           options=("--lab", str(LABS / "cifar10-cnn"), "--data-root", CIFAR_DATA, "-k",
                                    CIFAR_NET_CHECKS), cost=21),
    # what a student sees (tests/test_feedback.py): the reference graded as a student runs it (-v cancels
    # the -q of run_graders_on_each: `pytest graders --submission reference`), the notebook template alone
    # (Net only: three parts missing), and two first-attempt mistakes in pooling and conv math
    "feedback_notebook": Group(listed(ROOT / "student_templates" / "lab4.ipynb"), cost=9),
    "feedback_first_attempt": Group(first_attempt, files=NET_GRADERS + PART_GRADERS, cost=8),
}


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Job:
    """Shared work other than a grading run: ``run(scratch, runner)`` returns what its tests read
    (:meth:`Corpus.result`); ``runner`` forks grading commands from the corpus's warm process. ``cost``:
    its seconds, as a group's. It runs in a thread of this process, beside the tests: what it does with
    ``ast`` (loading or staging a submission) must run in a process of its own (see :meth:`Corpus.start`)."""

    run: Callable[[Path, Runner], Any]
    cost: float = 10.0


#: the jobs the test modules registered (:func:`background`), by name
JOBS: dict[str, Job] = {}


def background(name: str, cost: float) -> Callable[[Callable[[Path, Runner], Any]], Callable[[Path, Runner], Any]]:
    """Register the decorated ``run(scratch, runner)`` as the job ``name``: tests that read its result
    are marked ``@pytest.mark.grades(name)`` and call ``corpus.result(name)``."""
    def register(run: Callable[[Path, Runner], Any]) -> Callable[[Path, Runner], Any]:
        if name in GROUPS or name in JOBS:
            raise ValueError(f"the corpus already has a group or job named {name!r}")
        JOBS[name] = Job(run, cost)
        return run
    return register


def known(name: str) -> bool:
    """Whether ``name`` is a group or a registered job."""
    return name in GROUPS or name in JOBS


def cost(name: str) -> float:
    """The group's or job's cost (its measured seconds)."""
    return (GROUPS.get(name) or JOBS[name]).cost


def longest_first(names: set[str]) -> list[str]:
    """The order :meth:`Corpus.start` queues ``names`` in: longest first."""
    return sorted(names, key=lambda name: (-cost(name), name))


def expected_ends(names: set[str]) -> dict[str, float]:
    """When each of ``names`` should end, in seconds after the corpus starts, were each to take its cost:
    queued :func:`longest_first`, :data:`WORKERS` at a time (so the tests that read them can be run in
    about the order their results come)."""
    free, ends = [0.0] * WORKERS, {}
    for name in longest_first(names):
        worker = free.index(min(free))
        free[worker] = ends[name] = free[worker] + cost(name)
    return ends


# --------------------------------------------------------------------------- grading the groups


@dataclass
class Graded:
    """A group's results by submission name (a job's: its ``result``), its scratch directory, and how
    long its run took."""

    grades: dict[str, Grade]
    scratch: Path
    seconds: float
    result: Any = None


class Corpus:
    """Grades the groups, each once per session, :data:`WORKERS` at a time in background threads."""

    def __init__(self) -> None:
        #: the grading machine before any grading (what hostile submissions must not change)
        self.host_before = host_state()
        self.root = Path(tempfile.mkdtemp(prefix="cnngrade-corpus-"))
        #: the groups' gradings fork from one warm process (cnngrade/batch/warm.py)
        self.warm = WarmRunner()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="corpus")
        self._futures: dict[str, Future[Graded]] = {}
        self._lock = threading.Lock()

    def start(self, names: list[str]) -> None:
        """Queue the groups and jobs ``names`` (longest first), unless queued already. A group's submissions
        are written here, in the calling thread: several generate code with ``ast``, which CPython 3.11
        does not allow in two threads of a process at once (the tests use it too)."""
        with self._lock:
            for name in longest_first(set(names) - set(self._futures)):
                scratch = self.root / name.replace(":", "-")
                scratch.mkdir()
                try:
                    submissions = GROUPS[name].submissions(scratch) if name in GROUPS else []
                except Exception as exc:  # the tests that read the group fail with it, not the session
                    self._futures[name] = Future()
                    self._futures[name].set_exception(exc)
                    continue
                self._futures[name] = self._pool.submit(self._grade, name, scratch, submissions)

    def graded(self, group: str) -> Graded:
        """The group's results (graded now if nobody queued it)."""
        self.start([group])
        return self._futures[group].result()

    def grade(self, group: str, submission: str | None = None) -> Grade:
        """One submission's grade: ``submission`` is its name (see cnngrade.grader.submissions); the
        group's only submission when omitted."""
        grades = self.graded(group).grades
        if submission is None:
            (only,) = grades.values()
            return only
        return grades[submission]

    def result(self, job: str) -> Any:
        """What the job ``job`` returned (run now if nobody queued it); raises what it raised."""
        return self.graded(job).result

    def wait(self, isolated: bool | None = None) -> None:
        """Wait until every queued group (or every isolated one) has been graded."""
        for name, future in list(self._futures.items()):
            if name in GROUPS and (isolated is None or GROUPS[name].isolated == isolated):
                future.exception()

    def timings(self) -> dict[str, tuple[int | None, float]]:
        """Each finished group's submission count (None for a job) and seconds."""
        done = {name: f.result() for name, f in self._futures.items() if f.done() and f.exception() is None}
        return {name: (len(graded.grades) if name in GROUPS else None, graded.seconds) for name, graded in done.items()}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.warm.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _grade(self, name: str, scratch: Path, submissions: list[Path]) -> Graded:
        if name in JOBS:
            started = time.monotonic()
            result = JOBS[name].run(scratch, self.warm.run)
            return Graded({}, scratch, time.monotonic() - started, result)
        group = GROUPS[name]
        started = time.monotonic()
        env = {**os.environ, **group.env}
        if group.command:
            grades = {"command": command_grade(submissions, group.options, scratch, env, self.warm.run)}
        else:
            grades = run_graders_on_each(submissions, ROOT / "graders", *group.options, cwd=group.cwd or scratch,
                                         files=group.files, env=env, runner=self.warm.run)
        return Graded(grades, scratch, time.monotonic() - started)


def command_grade(submissions: list[Path], options: tuple[str, ...], cwd: Path, env: Mapping[str, str],
                  runner: Runner = run_fresh) -> Grade:
    """Grade with ``python -m cnngrade grade SUBMISSION ... OPTIONS``; its results and output."""
    results = cwd / "results.json"
    proc = runner([sys.executable, "-m", "cnngrade", "grade", *map(str, submissions), f"--results-json={results}",
                   *options], cwd=cwd, env=env, timeout=1800)
    if not results.is_file():
        raise RuntimeError(f"cnngrade grade wrote no results:\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(results.read_text(encoding="utf-8"))
    return Grade({t["number"]: t for t in data["tests"]}, data["score"], data["max_score"], proc.returncode,
                 proc.stdout + proc.stderr)

