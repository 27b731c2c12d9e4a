"""Structure of the lab's Net: it builds, has the layers the lab asks for, and its size."""

from __future__ import annotations

import pytest

from cnngrade.grader.architecture import Architecture
from cnngrade.grader.equivalence import describe_mismatch, eval_verdict, match_parameters
from cnngrade.grader.feedback import expect, fail
from cnngrade.submission.handle import NetDescription

LAYER_NAMES = {"conv2d": "conv layer (nn.Conv2d)", "linear": "fully connected layer (nn.Linear)",
               "dropout": "dropout layer (nn.Dropout / nn.Dropout2d)"}


@pytest.mark.points(5)
def test_net_builds(submission):
    """Net() builds with no arguments"""
    submission.build_net()


@pytest.mark.points(5)
def test_net_layers(submission, lab):
    """Net has the conv, fully connected and dropout layers the lab asks for"""
    net = submission.build_net()
    wanted: dict[str, int] = lab.setting("net.min_layers")
    missing = [
        f"at least {n} {LAYER_NAMES.get(kind, kind)}{'s' if n > 1 else ''} (found {net.count(kind)})"
        for kind, n in wanted.items()
        if net.count(kind) < n
    ]
    expect(not missing, "Net needs " + "; ".join(missing) + ". Layers must be attributes set in __init__.")


@pytest.mark.points(10)
def test_parameter_count(submission, lab):
    """Net has the lab's number of parameters"""
    net = submission.build_net()
    total = net.total_parameters
    if "expected_parameters" in lab.setting("net"):
        expected = lab.setting("net.expected_parameters")
        if total != expected:
            fail(f"Net has {total:,} parameters; the lab's Net has {expected:,}.\n{layer_table(net, lab)}")
    else:
        low, high = lab.setting("net.parameter_budget")
        if not low <= total <= high:
            fail(f"Net has {total:,} parameters; the budget is {low:,} to {high:,}.\n{layer_table(net, lab)}")


def layer_table(net: NetDescription, lab) -> str:
    """The student's layers with their parameter counts, and the lab's for comparison."""
    rows = [f"  {m.name:<16} {m.type:<12} {m.parameters:>10,}" for m in net.modules if m.parameters]
    reference = lab.data.get("net", {}).get("reference_layers", {})
    lines = ["Your layers:", *rows]
    if reference:
        lines.append("The lab's: " + ", ".join(f"{k} {v:,}" for k, v in reference.items()) + ".")
    return "\n".join(lines)


@pytest.mark.points(15)
def test_architecture(submission, lab, images):
    """Net computes the lab's architecture (the grader's weights loaded into it give the lab's output)"""
    arch = Architecture.from_config(lab)
    matching = match_parameters(arch.parameter_shapes(), submission.build_net().parameters)
    if not matching.fits:
        fail(describe_mismatch(arch, matching))
    verdict = eval_verdict(submission, arch, matching, images(lab.setting("net.batch_sizes")[-1]))
    if verdict.message is not None:
        fail(verdict.message)
