"""Hostile submissions (tests/hostile/) against the isolated backend: no forged pass, ever.

Every submission in tests/hostile/ is graded with ``--isolated`` and must get its verdict: the
listed checks fail with a reason, the honest part passes, nothing else. The spy, disk-filling,
forging and poisoning submissions also report what they saw or did, and the host is checked for
anything they left behind. The reference is graded in the same run before and after the hostile
submissions (one sandboxed child serves it throughout), and a subset that is safe to run unsandboxed
is graded in-process too, to show that each of those attacks does forge a pass there: the defences
are needed. The protocol's decoding of untrusted frames is unit-tested at the end.

The gradings are groups of tests/corpus.py (``hostile``, ``hostile_hanging``, ``hostile_model``,
``forged:NAME``), graded once per session with short per-call timeouts for the hanging submissions
(CNNGRADE_CALL_TIMEOUT, CNNGRADE_MAX_RESTARTS).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from cnngrade.grader.invocation import Grade
from cnngrade.submission import errors
from cnngrade.submission.handle import ModuleCall, ModuleInfo, NetDescription, ParameterInfo, Submission
from cnngrade.submission.isolated import IsolatedSubmission, protocol, sandbox
from cnngrade.submission.isolated.sandbox import SandboxUnavailable
from tests.corpus import (
    FORGED_IN_PROCESS,
    HANGING,
    HANGING_TIMEOUT,
    HOSTILE,
    HOSTILE_DEVICE,
    HOSTILE_LEARNS,
    HOSTILE_MODEL,
    HOSTILE_PARTS,
    MEMORY_CAPPED,
    Corpus,
    hostile_half,
)
from tests.corpus import GROUPS as CORPUS_GROUPS
from tests.host import host_state
from tests.paths import ROOT
from tests.sandboxes import sandbox_or_skip

STRUCTURE = frozenset({"test_net_builds", "test_net_layers", "test_parameter_count"})
FORWARD = ("test_architecture", "test_forward_returns_tensor", "test_output_shape", "test_finite_outputs",
           "test_log_softmax", "test_eval_deterministic", "test_batch_independence", "test_dropout_placement")
SANDBOX_UID = 65534
FORGED_MARK = "forged by a hostile submission"
GROUPS = tuple(g for g in ("hostile", "hostile_2", "hostile_hanging", "hostile_model", "hostile_learns",
                           "hostile_device", "hostile_parts", "hostile_memory",
                           *(f"forged:{n}" for n in FORGED_IN_PROCESS)) if g in CORPUS_GROUPS)
#: the mark of the tests that read the hostile gradings
grades_hostile = pytest.mark.grades(*GROUPS)


@dataclass(frozen=True)
class Verdict:
    """What an isolated grading must report.

    ``failed``: check -> words its feedback contains (any of a tuple); ``passed``: checks that must
    pass (the honest part); ``others``: when set, every other check that ran fails with these words.
    """

    failed: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    passed: frozenset[str] = STRUCTURE
    others: str | None = None


DIFFERENT = "gave different outputs"
EXPECTED: dict[str, Verdict] = {
    "exit_at_import": Verdict(passed=frozenset(), others="exited with status 0 during Net()"),
    "sys_exit_in_forward": Verdict(passed=frozenset({"test_net_builds"}), others="SystemExit"),
    "exit_in_forward": Verdict(passed=frozenset({"test_net_builds"}), others="exited with status 0 during Net.forward"),
    "pytest_hooks": Verdict(failed={"test_log_softmax": "softmax probabilities", "test_eval_deterministic": DIFFERENT,
                                    "test_batch_independence": DIFFERENT}),
    "conftest_in_submission": Verdict(failed={"test_log_softmax": "raw scores"}),
    "fake_tensor": Verdict(passed=frozenset({"test_net_builds"}), failed=dict.fromkeys(
        (*FORWARD, "test_net_layers", "test_parameter_count"), "cannot be sent back to the grader")),
    "tensor_subclass": Verdict(failed={"test_eval_deterministic": DIFFERENT, "test_batch_independence": DIFFERENT}),
    "patch_torch": Verdict(failed={"test_eval_deterministic": DIFFERENT, "test_batch_independence": DIFFERENT}),
    "patch_builtins": Verdict(failed={"test_architecture": "no ReLU after the Conv2d(1 -> 10, kernel 5)"}),
    # patch cnngrade inside the child to lie about what used to be self-reported
    "lie_structure": Verdict(passed=frozenset({"test_net_builds"}), failed={
        "test_net_layers": "at least 2 conv layers (nn.Conv2d; found 0)",
        "test_parameter_count": "does not change its output", "test_architecture": "does not compute the lab's Net"}),
    "lie_gradients": Verdict(failed={"test_every_parameter_gets_gradient": "fc1.weight (moving it along its gradient"}),
    # torch's pooling / unfold / fold / convolution underneath, and a forged operator trace from its child (the
    # answer baked in, or the forbidden operator renamed); graded on the from-scratch checks alone
    "lie_ops": Verdict(passed=frozenset(), failed={
        "test_pooling_from_scratch": "The grader could not reproduce max_pool2d from its operator trace",
        "test_unfold_fold_conv_from_scratch": "The grader could not reproduce unfold from its operator trace"}),
    "patch_clock": Verdict(failed={"test_inference_speed": "images/s"}),
    "memoise_slow": Verdict(failed={"test_inference_speed": "images/s"}),
    "warmup_only": Verdict(failed={"test_inference_speed": "differ from what it computes otherwise"}),
    "batch_size_detect": Verdict(failed={"test_inference_speed": "differ from what it computes otherwise"}),
    "forge_results": Verdict(failed={"test_log_softmax": "raw scores"}),
    "steal_reference": Verdict(passed=frozenset({"test_net_builds", "test_parameter_count"}), failed={
        "test_log_softmax": "raw scores", "test_net_layers": "dropout layer",
        "test_dropout_placement": "no dropout at all"}),
    "spy": Verdict(passed=frozenset(), others="SPY<<"),
    "network": Verdict(passed=frozenset(), others="Network is unreachable"),
    "infinite_loop": Verdict(passed=frozenset({"test_net_builds"}), others=f"timed out after {HANGING_TIMEOUT} s"),
    "swallow_timeout": Verdict(passed=frozenset({"test_net_builds"}), others=f"timed out after {HANGING_TIMEOUT} s"),
    "fork_bomb": Verdict(passed=frozenset({"test_net_builds"}), others=f"timed out after {HANGING_TIMEOUT} s"),
    "fork_allocate": Verdict(passed=frozenset(), others="used more memory than their limit of"),
    "huge_allocation": Verdict(passed=frozenset(), others="can't allocate memory"),
    "print_flood": Verdict(passed=frozenset({"test_net_builds"}), others="printed more than 16 MiB of output"),
    "fill_disk": Verdict(passed=frozenset(), others="DISK<<"),
    "poison_environment": Verdict(failed={"test_log_softmax": "raw scores"}),
    # (outputs that do not change with the parameters the grader sets: no layer, no parameter counts)
    "cache_outputs": Verdict(passed=frozenset({"test_net_builds"}), failed={
        "test_net_layers": "found 0", "test_parameter_count": "does not change its output",
        "test_every_parameter_gets_gradient": "never used in forward"}),
    "garbage_values": Verdict(passed=frozenset({"test_net_builds"}), failed={
        "test_log_softmax": "raw scores", "test_eval_deterministic": DIFFERENT, "test_net_layers": "found 0",
        "test_parameter_count": "does not change its output", "test_every_parameter_gets_gradient": "get no gradient"}),
    "model_pt_pickle": Verdict(failed={"test_trained_model": ("cannot be loaded", "Weights only load failed")}),
    "protocol_garbage": Verdict(passed=frozenset({"test_net_builds"}), others="malformed answer"),
    "kill_everything": Verdict(passed=frozenset({"test_net_builds"}), others="killed by SIGKILL"),
    "symlink_reference": Verdict(passed=frozenset(), others="has no lab4_cnn.py"),
    "background_work": Verdict(failed={"test_log_softmax": "raw scores"}),
    "setsid_background": Verdict(failed={"test_log_softmax": "raw scores"}),
    "nested_namespace": Verdict(failed={"test_log_softmax": "raw scores"}),
    "steal_labels": Verdict(failed={"test_log_softmax": "softmax probabilities",
                                    "test_learns": ("accuracy on the", "was stopped at step", "timed out")}),
}


def group_of(name: str) -> str:
    """The corpus group that grades the hostile submission ``name`` isolated."""
    for group, names in (("hostile_hanging", HANGING), ("hostile_model", HOSTILE_MODEL),
                         ("hostile_device", HOSTILE_DEVICE), ("hostile_parts", HOSTILE_PARTS),
                         ("hostile_learns", HOSTILE_LEARNS), ("hostile_memory", MEMORY_CAPPED),
                         ("hostile_2", [p.name for p in hostile_half(1)])):
        if name in names:
            return group
    return "hostile"


@dataclass
class HostileRun:
    """The isolated gradings of the hostile corpus, the in-process ones, and the host after them."""

    corpus: Corpus

    def grade(self, name: str, backend: str = "isolated") -> Grade:
        return self.corpus.grade(group_of(name) if backend == "isolated" else f"forged:{name}", name)


@pytest.fixture(scope="module")
def hostile(corpus) -> HostileRun:
    sandbox_or_skip()
    return HostileRun(corpus)


def feedback_of(result: Grade, check: str) -> str:
    return result.checks[check]["output"]


def matches(text: str, words: str | tuple[str, ...]) -> bool:
    return any(w in text for w in ((words,) if isinstance(words, str) else words))


def report_between(text: str, start: str, end: str) -> dict:
    match = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, re.S)
    assert match, f"no {start}...{end} report in {text[:500]!r}"
    return json.loads(match.group(1))


# --------------------------------------------------------------------------- the corpus


#: hostile submissions that lie about what only they can tell: the check they lie to passes, marked
#: self-reported in results.json and the report (the README lists those points)
SELF_REPORTED_LIES = {"lie_device": "test_to_device_moves_everything"}


def test_corpus_covers_every_hostile_directory():
    assert {p.name for p in HOSTILE.iterdir() if p.is_dir()} == set(EXPECTED) | set(SELF_REPORTED_LIES)
    assert len(EXPECTED) >= 17


@grades_hostile
@pytest.mark.parametrize("name", sorted(SELF_REPORTED_LIES))
def test_a_lie_about_what_only_the_child_can_tell_is_marked_self_reported(hostile, name):
    result = hostile.grade(name)
    check = SELF_REPORTED_LIES[name]
    assert check in result.passed()
    assert result.checks[check]["tags"] == ["self-reported"]
    assert "Self-reported: 5 of these points rest on what the submission says about itself" in result.stdout
    assert [c for c, info in result.checks.items() if "tags" in info] == [check]


@grades_hostile
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_submission_gets_its_verdict(hostile, name):
    if name == "fork_allocate":  # graded only where a cgroup caps its memory (tests/corpus.py)
        from tests.test_cgroups import cgroups_or_skip

        cgroups_or_skip()
    verdict = EXPECTED[name]
    result = hostile.grade(name)
    ran = set(result.checks)
    assert verdict.passed | set(verdict.failed) <= ran, f"checks missing from the run: {sorted(ran)}"
    failed = result.failed()
    for check, words in verdict.failed.items():
        assert check in failed, f"{check} was not failed: {result.checks[check]}"
        assert matches(failed[check], words), f"{check}: {failed[check]!r}"
    assert verdict.passed <= result.passed(), {c: result.checks[c]["output"] for c in verdict.passed}
    if verdict.others is not None:
        for check in ran - verdict.passed - set(verdict.failed):
            assert check in failed and verdict.others in failed[check], f"{check}: {result.checks[check]}"
    for check, info in result.checks.items():
        assert "Traceback" not in info["output"], f"{check}: {info['output']}"
        assert FORGED_MARK not in info["output"]
    must_fail = set(verdict.failed) | (ran - verdict.passed if verdict.others is not None else set())
    honest = result.max_score - sum(result.checks[c]["max_score"] for c in must_fail)
    assert result.score <= honest < result.max_score
    assert result.exit_code == 1


@grades_hostile
def test_spy_sees_no_secret_no_network_and_no_privilege(hostile):
    report = report_between(feedback_of(hostile.grade("spy"), "test_net_builds"), "SPY<<", ">>SPY")
    check_spy_report(report, sandbox.detect())


def check_spy_report(report: dict, box: sandbox.Sandbox) -> None:
    assert report["secrets"] == []
    if box.tool == "bwrap":
        assert report["uid"] == report["euid"] == SANDBOX_UID
    elif box.as_root:  # unshare or the fork server as root: a uid of the sandbox range
        assert report["uid"] == report["euid"]
        assert sandbox.UID_BASE <= report["uid"] < sandbox.UID_BASE + sandbox.UID_COUNT
    # (unshare or the fork server as an ordinary user: uid 0 of its own user namespace, with no capabilities)
    assert len(report["groups"]) <= 1
    assert int(report["capabilities"]["CapEff"], 16) == 0 and int(report["capabilities"]["CapPrm"], 16) == 0
    assert report["capabilities"]["NoNewPrivs"] == "1"
    if box.tool in ("fork", "bwrap"):  # (util-linux unshare leaves user namespaces to the kernel's settings)
        assert report["user_namespace"].startswith("refused"), report["user_namespace"]
    assert report["network"]["interfaces"] == ["lo"]
    assert report["network"]["dns"] != "resolved" and report["network"]["connect"] != "connected"
    assert set(report["writable"]) <= {"/tmp", "/dev/shm"}
    allowed = set(sandbox.child_env(1, False)) | {"PWD"}
    assert set(report["env"]) <= allowed, set(report["env"]) - allowed
    assert len(report["pids"]) <= 3 and report["hostname"] == "sandbox" and report["cwd"] == "/tmp"


@grades_hostile
def test_filling_the_disk_stays_in_the_sandboxs_capped_tmpfs(hostile):
    report = report_between(feedback_of(hostile.grade("fill_disk"), "test_net_builds"), "DISK<<", ">>DISK")
    from cnngrade.submission.isolated.limits import Limits

    defaults = Limits()
    total = sum(r["mib"] for r in report.values())
    assert total <= (defaults.tmp_size + defaults.shm_size) >> 20, report
    for place, outcome in report.items():
        if place in ("/tmp", "/dev/shm"):
            assert outcome["stopped"] in ("ENOSPC", "EFBIG"), report
        else:
            assert outcome == {"mib": 0, "stopped": "EROFS"} or outcome["stopped"] in ("EACCES", "EPERM"), report


@grades_hostile
def test_forged_results_and_junit_are_not_what_the_grader_reports(hostile):
    result = hostile.grade("forge_results")
    assert result.score < result.max_score
    assert all(FORGED_MARK not in c["output"] for c in result.checks.values())
    junit = (hostile.corpus.graded(group_of("forge_results")).scratch / "junit.xml").read_text()
    assert FORGED_MARK not in junit
    assert re.search(r'<testcase [^>]*name="test_log_softmax\[forge_results\]"[^>]*>\s*<failure', junit)


@grades_hostile
def test_nothing_is_planted_on_the_host_and_the_next_grading_is_normal(hostile):
    hostile.corpus.wait(isolated=True)
    before, after, deadline = hostile.corpus.host_before, host_state(), time.monotonic() + 15
    while not set(after.cgroups) <= set(before.cgroups) and time.monotonic() < deadline:
        time.sleep(0.5)  # a grading killed meanwhile (tests/test_batch.py kills some): its fork server cleans up
        after = host_state()
    assert after.planted == before.planted == ()
    assert after.hostile_files == before.hostile_files
    assert after.feedback == before.feedback
    assert set(after.cgroups) <= set(before.cgroups)  # each child's cgroup is removed when it ends
    assert not Path("/tmp/cnngrade-hostile-model-pt-ran").exists()
    assert not Path(tempfile.gettempdir(), "cnngrade-hostile-conftest-ran").exists()


@grades_hostile
def test_reference_graded_before_and_after_the_hostile_batch_keeps_its_score(hostile):
    before, after = (hostile.corpus.grade("hostile", name) for name in ("reference", "reference-2"))
    assert before.failed() == {} and after.failed() == {}
    assert before.score == after.score == before.max_score > 0
    assert {n: c["status"] for n, c in before.checks.items()} == {n: c["status"] for n, c in after.checks.items()}


@grades_hostile
@pytest.mark.skipif(os.geteuid() != 0, reason="counts the processes of root's sandbox uids")
def test_no_sandboxed_process_outlives_its_grading(hostile):
    hostile.corpus.wait(isolated=True)
    deadline = time.monotonic() + 15
    while sandbox.sandboxed_tasks() > hostile.corpus.host_before.sandboxed_tasks and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sandbox.sandboxed_tasks() <= hostile.corpus.host_before.sandboxed_tasks


@grades_hostile
def test_flooded_output_does_not_reach_the_grader(hostile):
    result = hostile.grade("print_flood")
    assert len(result.stdout) < 1 << 20
    assert any("spam spam" in info["output"] for info in result.checks.values())  # the tail is shown


@grades_hostile
@pytest.mark.parametrize("name", sorted(FORGED_IN_PROCESS))
def test_the_in_process_backend_is_forged_where_the_isolated_one_is_not(hostile, name):
    """Graded in-process on the checks it forges (tests/corpus.py), it passes them; isolated, it fails them."""
    isolated, in_process = hostile.grade(name), hostile.grade(name, "in_process")
    forged = set(FORGED_IN_PROCESS[name])
    assert forged <= in_process.passed(), {c: in_process.checks.get(c) for c in forged}
    assert forged.isdisjoint(isolated.passed())


@grades_hostile
def test_the_corpus_is_graded_in_reasonable_time(hostile):
    for group in GROUPS:
        graded = hostile.corpus.graded(group)
        print(f"{group}: {len(graded.grades)} submissions in {graded.seconds:.0f} s")
    assert all(hostile.corpus.graded(group).seconds < 600 for group in GROUPS)


# --------------------------------------------------------------------------- the sandbox itself


def test_the_sandbox_is_paused_between_calls():
    sandbox_or_skip()
    handle = IsolatedSubmission(HOSTILE / "background_work")
    x = torch.zeros(2, 1, 28, 28)
    try:
        handle.build_net()
        handle.forward(x)
        time.sleep(0.1)
        short = int(handle.forward(x)[0, 0])
        time.sleep(2.0)
        long = int(handle.forward(x)[0, 0])
    finally:
        handle.close()
    # Unpaused, two threads would do about 20 times as many rounds in 2 s as in 0.1 s.
    assert long <= 2 * short + 300, (short, long)


def background_rounds(name: str) -> tuple[int, bool, int]:
    """Grade the background-process submission ``name`` (setsid_background, nested_namespace):
    (rounds its process did while a call slept 0.5 s, whether it escaped as the submission means
    to, rounds it did in the 2 s between two calls)."""
    handle = IsolatedSubmission(HOSTILE / name)
    two, three = torch.zeros(2, 1, 28, 28), torch.zeros(3, 1, 28, 28)
    try:
        handle.build_net()
        # the process runs only while calls do: the first, which sleeps 0.5 s, gives it time to escape
        during = int(handle.forward(three)[0, 0])
        escaped = bool(handle.forward(two)[0, 1] == 1)
        time.sleep(2.0)
        between = int(handle.forward(two)[0, 0])
    finally:
        handle.close()
    assert during >= 10, f"the background process did no work during a call ({during} rounds)"
    return during, escaped, between


def test_a_process_that_left_the_sandboxs_process_group_is_paused_too():
    sandbox_or_skip()
    during, escaped, between = background_rounds("setsid_background")
    assert escaped, "the background process did not start in a session of its own"
    # Unpaused, the process would do about 4 times as many rounds in the 2 s as in the 0.5 s.
    assert between < during / 2, (during, between)


@pytest.mark.skipif(os.geteuid() != 0, reason="the unshare sandbox tells a nested namespace's processes by root's uids")
def test_a_process_in_a_nested_pid_namespace_is_paused_too(monkeypatch):
    sandbox_or_skip()
    monkeypatch.setenv("CNNGRADE_SANDBOX", "unshare")  # bubblewrap forbids nested user namespaces
    sandbox.detect.cache_clear()
    try:
        during, nested, between = background_rounds("nested_namespace")
    finally:
        sandbox.detect.cache_clear()
    assert nested, "the background process did not get a PID namespace of its own"
    assert between < during / 2, (during, between)


def test_isolated_backend_refuses_without_a_sandbox(monkeypatch):
    monkeypatch.setenv("CNNGRADE_SANDBOX", "none")
    sandbox.detect.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable) as caught:
            IsolatedSubmission(ROOT / "reference")
    finally:
        sandbox.detect.cache_clear()
    message = str(caught.value)
    for words in ("refuses", "apt-get install bubblewrap", "kernel.unprivileged_userns_clone=1",
                  "kernel.apparmor_restrict_unprivileged_userns=0", "in-process backend"):
        assert words in message, message


def test_a_sandbox_used_because_the_preferred_one_failed_says_why(monkeypatch, capsys):
    """The fork server's trial runs fail (twice: once more after a pause), bwrap's pass: bwrap is used,
    and stderr says which failed and why."""
    trials = []

    def probe(candidate):
        trials.append(candidate.tool)
        return "failed its trial run (exit status 3: no message)" if candidate.tool == "fork" else None

    monkeypatch.setattr(sandbox, "probe", probe)
    monkeypatch.setattr(sandbox, "_candidates", lambda: [("fork", sandbox.Sandbox("fork", True, {})),
                                                         ("bwrap", sandbox.Sandbox("bwrap", True, {"bwrap": "/x"}))])
    monkeypatch.setattr(sandbox.time, "sleep", lambda seconds: None)
    monkeypatch.delenv("CNNGRADE_SANDBOX", raising=False)
    sandbox.detect.cache_clear()
    try:
        assert sandbox.detect().tool == "bwrap"
    finally:
        sandbox.detect.cache_clear()
    assert trials == ["fork", "fork", "bwrap"]
    assert capsys.readouterr().err == ("cnngrade: sandbox fork failed its trial run (exit status 3: no message); "
                                       "using bwrap instead\n")


@pytest.mark.parametrize("tool", ["bwrap", "unshare"])
def test_the_other_sandboxes_hide_as_much_as_the_fork_server(monkeypatch, tool):
    """The corpus runs in the first sandbox that works (the fork server here); the others, which
    CNNGRADE_SANDBOX chooses, hide the same things from the spy and grade the reference alike."""
    monkeypatch.setenv("CNNGRADE_SANDBOX", tool)
    sandbox.detect.cache_clear()
    try:
        try:
            box = sandbox.detect()
        except SandboxUnavailable as exc:
            pytest.skip(f"{tool} cannot sandbox here: {exc}")
        assert box.tool == tool
        spy = IsolatedSubmission(HOSTILE / "spy")
        reference = IsolatedSubmission(ROOT / "reference")
        try:
            with pytest.raises(errors.StudentCodeError) as caught:
                spy.build_net()
            check_spy_report(report_between(str(caught.value), "SPY<<", ">>SPY"), box)
            assert reference.build_net().total_parameters == 21840
            assert reference.forward(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
        finally:
            spy.close()
            reference.close()
    finally:
        sandbox.detect.cache_clear()


def test_the_child_sees_no_bundled_data_and_no_repository():
    sandbox_or_skip()
    mounts = sandbox.child_mounts("/nonexistent", 1 << 20, 1 << 20, False)
    # the one directory of the repository a child may see is a virtual environment inside it (.venv)
    environments = {os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix)}
    sources = [m.source or "" for m in mounts if m.source not in environments]
    assert not any(s == str(ROOT) or s.startswith(str(ROOT) + os.sep) for s in sources), sources
    assert all(not (Path(m.source) / "reference").exists() for m in mounts if m.kind == "ro"), mounts
    staged = Path(sandbox.staged_package(), "cnngrade")
    assert (staged / "submission" / "isolated" / "child.py").is_file()
    # its .py files, and their bytecode (a child may not write it)
    def compiled(p: Path) -> bool:
        return p.parent.name == "__pycache__" and (p.parent.parent / f"{p.name.split('.')[0]}.py").is_file()
    assert [p for p in staged.rglob("*") if p.is_file() and p.suffix != ".py" and not compiled(p)] == []


def test_every_handle_method_is_forwarded_and_nothing_else():
    assert protocol.METHODS == Submission.__abstractmethods__
    assert not IsolatedSubmission.__abstractmethods__
    import inspect

    for name in protocol.METHODS:
        assert inspect.signature(getattr(IsolatedSubmission, name)) == inspect.signature(getattr(Submission, name))


def test_an_isolated_handle_answers_like_the_in_process_one():
    sandbox_or_skip()
    from cnngrade.submission.inprocess import InProcessSubmission

    x = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    here, there = InProcessSubmission(ROOT / "reference"), IsolatedSubmission(ROOT / "reference")
    try:
        assert here.build_net() == there.build_net()
        assert torch.equal(here.forward(x, train=True, seed=4), there.forward(x, train=True, seed=4))
        state = {"fc2.bias": torch.arange(10.0)}
        mine, theirs = here.run_with_state(state, x), there.run_with_state(state, x)
        assert torch.equal(mine.output, theirs.output) and len(mine.calls) == len(theirs.calls) > 0
        pairs = zip(mine.calls, theirs.calls, strict=True)
        assert all(a.name == b.name and torch.equal(a.output, b.output) for a, b in pairs)
        grad = torch.randn(5, 10, generator=torch.Generator().manual_seed(5))
        mine, theirs = here.gradients(state, x, grad), there.gradients(state, x, grad)
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
        patch = x[:1, :, :6, :6].contiguous()
        assert here.op_graph("max_pool2d", patch, 3, 1, 1) == there.op_graph("max_pool2d", patch, 3, 1, 1)
        with pytest.raises(errors.StudentCodeError) as caught:
            there.call("max_pool2d", torch.zeros(2, 2), 0)
        assert caught.value.exception_type  # the student's exception class crosses the pipe
    finally:
        there.close()


# --------------------------------------------------------------------------- the protocol


def frame_of(header: object, payload: bytes = b"") -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack(">I", len(text)) + text + payload


def test_protocol_round_trips_plain_data():
    value = {
        "t": torch.randn(3, 4), "i": torch.arange(6, dtype=torch.int64).reshape(2, 3), "b": torch.tensor([True]),
        "h": torch.ones(2, dtype=torch.bfloat16), "e": torch.zeros(0, 5), "nc": torch.randn(4, 6).t(),
        "floats": (1.5, math.inf, -math.inf, 2), "n": None, "s": "ünïcode", 7: [1, [2, (3,)]],
        "np": np.arange(4.0), "dtype": torch.float16, "device": torch.device("cpu"),
        "net": NetDescription((ModuleInfo("conv1", "Conv2d", "conv2d", 260, "Conv2d(1, 10)"),),
                              (ParameterInfo("conv1.weight", (10, 1, 5, 5), True),)),
        "calls": [ModuleCall("fc1", "linear", torch.full((2, 3), math.nan), None)],
    }
    kind, back = protocol.decode(protocol.encode("ok", value))
    assert kind == "ok" and back.keys() == value.keys()
    for key in ("t", "i", "b", "h", "e", "nc"):
        assert type(back[key]) is torch.Tensor and torch.equal(back[key], value[key].contiguous())
        assert back[key].dtype == value[key].dtype
    assert back["floats"] == (1.5, math.inf, -math.inf, 2) and back[7] == [1, [2, (3,)]]
    assert back["net"] == value["net"] and back["calls"][0].output is None
    assert back["calls"][0].input.isnan().all()
    assert np.array_equal(back["np"], value["np"]) and back["dtype"] is torch.float16


@pytest.mark.parametrize("header, payload, words", [
    (b"{not json", b"", "not JSON"),
    (b'{"kind": "ok", "v": NaN, "b": []}', b"", "non-JSON constant"),
    ({"kind": "ok", "v": 1}, b"", "exactly the fields"),
    ({"kind": "pickle", "v": 1, "b": []}, b"", "kind"),
    ({"kind": "ok", "v": {"$": "tensor", "dtype": "float32", "shape": [2, 2], "b": 0}, "b": [12]}, b"x" * 12,
     "needs 16"),
    ({"kind": "ok", "v": {"$": "tensor", "dtype": "object", "shape": [1], "b": 0}, "b": [8]}, b"x" * 8, "dtype"),
    ({"kind": "ok", "v": {"$": "tensor", "dtype": "uint8", "shape": [-1], "b": 0}, "b": [1]}, b"x", "shape"),
    ({"kind": "ok", "v": [{"$": "tensor", "dtype": "uint8", "shape": [1], "b": 0}] * 2, "b": [1]}, b"x", "buffer"),
    ({"kind": "ok", "v": {"$": "pickle", "v": "gASV"}, "b": []}, b"", "tagged"),
    ({"kind": "ok", "v": {"$": "dc", "name": "Popen", "v": {}}, "b": []}, b"", "unknown type"),
    ({"kind": "ok", "v": {"$": "dc", "name": "ModuleInfo", "v": {"name": "a", "type": "b", "kind": "c",
                                                                    "parameters": "many", "summary": ""}}, "b": []},
     b"", "not an int"),
    ({"kind": "ok", "v": {"$": "dict", "v": [[[1], 2]]}, "b": []}, b"", "dict key"),
    ({"kind": "ok", "v": {"$": "float", "v": "1e999"}, "b": []}, b"", "float"),
    ({"kind": "ok", "v": {"$": "device", "v": "file:/etc/passwd"}, "b": []}, b"", "device"),
    ({"kind": "ok", "v": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "b": []}, b"",
     "nested"),
    ({"kind": "ok", "v": 2**200, "b": []}, b"", "integer"),
    ({"kind": "ok", "v": 1, "b": [3]}, b"abcd", "do not match"),
])
def test_protocol_rejects_malformed_frames(header, payload, words):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode(frame_of(header, payload))
    assert words in str(caught.value)


def test_protocol_never_unpickles_what_it_is_sent(tmp_path):
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    for data in (pickle.dumps(Payload()), struct.pack(">I", 40) + pickle.dumps(Payload())):
        with pytest.raises(protocol.ProtocolError):
            protocol.decode(data)
    assert not marker.exists()


def test_protocol_rejects_an_oversized_frame_without_reading_it():
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, struct.pack(">I", 0xFFFFFFF0))
        with pytest.raises(protocol.ProtocolError, match="header of 4294967280 bytes"):
            protocol.read_frame(read_end)
        os.write(write_end, frame_of({"kind": "ok", "v": 1, "b": [1 << 30]}))
        with pytest.raises(protocol.ProtocolError, match="sizes|MiB"):
            protocol.read_frame(read_end, protocol.Caps(array_bytes=1 << 20))
    finally:
        os.close(read_end)
        os.close(write_end)


def test_protocol_times_out_on_a_silent_pipe():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    try:
        started = time.monotonic()
        with pytest.raises(protocol.ChannelTimeout):
            protocol.read_frame(read_end, deadline=time.monotonic() + 0.3)
        assert time.monotonic() - started < 2
    finally:
        os.close(read_end)
        os.close(write_end)


def test_protocol_errors_come_back_as_submission_errors_only():
    assert type(protocol.make_error("MissingPart", "no pooling.py")) is errors.MissingPart
    assert type(protocol.make_error("SystemExit", "x")) is errors.StudentCodeError
    assert type(protocol.make_error("os.system", "x")) is errors.StudentCodeError
    assert type(protocol.make_error(["NotImplementedYet"], "x")) is errors.StudentCodeError
    error = protocol.make_error("StudentCodeError", "x" * 100_000, {"exception_type": "ValueError", "evil": "1"})
    assert error.exception_type == "ValueError" and type(error.as_builtin()) is ValueError
    assert len(error.message) <= protocol.MESSAGE_CHARS
    payload = protocol.error_payload(KeyboardInterrupt(), "forward()")
    assert payload["type"] == "StudentCodeError" and "KeyboardInterrupt" in payload["message"]


def test_protocol_checks_answers_against_the_handles_annotations():
    from typing import get_type_hints

    hint = get_type_hints(Submission.forward)["return"]
    assert torch.equal(protocol.conform(torch.zeros(2), hint), torch.zeros(2))
    for wrong in ([0.0], np.zeros(2), None, "tensor"):
        with pytest.raises(protocol.ProtocolError):
            protocol.conform(wrong, hint)
    gradients = get_type_hints(Submission.gradients)["return"]
    protocol.conform({"fc1.weight": None, "fc1.bias": torch.zeros(1)}, gradients)
    with pytest.raises(protocol.ProtocolError):
        protocol.conform({"fc1.weight": 1.0}, gradients)


def test_the_child_serves_only_the_handles_methods():
    from cnngrade.submission.isolated import child

    requests_read, requests_write = os.pipe()
    answers_read, answers_write = os.pipe()

    class Handle:
        def build_net(self, seed=0):
            return NetDescription((), ())

    try:
        os.write(requests_write, protocol.encode("request", {"method": "build_net", "args": [], "kwargs": {}}))
        os.write(requests_write, protocol.encode("request", {"method": "__init__", "args": [], "kwargs": {}}))
        with pytest.raises(protocol.ProtocolError, match="bad request"):
            child.serve(Handle(), requests_read, answers_write, protocol.DEFAULT_CAPS)
        assert protocol.read_frame(answers_read)[0] == "hello"
        assert protocol.read_frame(answers_read) == ("ok", NetDescription((), ()))
    finally:
        for fd in (requests_read, requests_write, answers_read, answers_write):
            os.close(fd)


def test_limits_come_from_the_environment(monkeypatch):
    from cnngrade.submission.isolated.limits import Limits

    limits = Limits.from_env({"CNNGRADE_CALL_TIMEOUT": "2.5", "CNNGRADE_MAX_RESTARTS": "0"})
    assert limits.call_timeout == 2.5 and limits.max_restarts == 0
    assert limits.timeout_for("train_and_predict") == 25 and limits.timeout_for("forward") == 2.5
    with pytest.raises(ValueError, match="CNNGRADE_CALL_TIMEOUT"):
        Limits.from_env({"CNNGRADE_CALL_TIMEOUT": "soon"})


def test_a_missing_submission_is_feedback_not_a_crash(tmp_path):
    sandbox_or_skip()
    handle = IsolatedSubmission(tmp_path / "nothing-here")
    try:
        with pytest.raises(errors.LoadError, match="Submission not found"):
            handle.build_net()
    finally:
        handle.close()
    shutil.rmtree(tmp_path, ignore_errors=True)
