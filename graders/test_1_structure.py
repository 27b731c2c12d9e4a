"""Structure of the lab's Net: it builds, has the layers the lab asks for, and its size.

Layers and parameters are counted from what Net's outputs show (:mod:`cnngrade.grader.parameters`):
a parameter counts when setting it changes Net's output, a layer's kind is read from its weight's
shape (4-D: convolution, 2-D: fully connected), dropout is train-mode output that changes with the
seed. What Net says about itself only words the messages. So a forward pass that fails fails these
checks too.
"""

from __future__ import annotations

import pytest

from cnngrade.grader.architecture import Architecture
from cnngrade.grader.equivalence import describe_mismatch, eval_verdict, match_parameters
from cnngrade.grader.feedback import expect, fail
from cnngrade.grader.layer_diff import first_difference
from cnngrade.grader.parameters import Evidence, examine
from cnngrade.grader.plugin import LAYER_WORDS
from cnngrade.lab.config import ConfigError
from cnngrade.submission.handle import NetDescription

#: the torch module that makes a layer of each kind
LAYER_MODULES = {"conv2d": "nn.Conv2d", "linear": "nn.Linear", "dropout": "nn.Dropout / nn.Dropout2d"}
#: the dimensions of a layer kind's weight
WEIGHT_DIMENSIONS = {"conv2d": 4, "linear": 2}


def layers_seen(net: NetDescription, evidence: Evidence) -> dict[str, int]:
    """How many layers of each kind Net's outputs show: weights of each kind's dimensions that change
    the output, and dropout (0 or 1: train-mode outputs that change with the seed)."""
    used = evidence.used(net.parameters)
    seen = {kind: sum(1 for p in used if len(p.shape) == dims)
            for kind, dims in WEIGHT_DIMENSIONS.items()}
    return {**seen, "dropout": int(evidence.stochastic_in_train)}


@pytest.mark.points(5)
def test_net_builds(submission):
    """Net() builds with no arguments"""
    submission.build_net()


@pytest.mark.points(5)
def test_net_layers(submission, lab, images):
    """Net has at least the lab's number of each kind of layer ({layers})"""
    wanted: dict[str, int] = lab.setting("net.min_layers")
    unknown = sorted(set(wanted) - set(LAYER_MODULES))
    if unknown or wanted.get("dropout", 0) > 1:
        raise ConfigError(f"{lab.path}: [net] min_layers counts conv2d, linear and dropout (at most 1: the grader "
                          f"sees dropout as randomness in train mode; [architecture] places each one), not {wanted}.")
    net = submission.build_net()
    seen = layers_seen(net, examine(submission, net.parameters, images(lab.setting("net.batch_sizes")[-1])))
    missing = [
        f"at least {n} {LAYER_WORDS[kind]} layer{'s' if n > 1 else ''} ({LAYER_MODULES[kind]}; found {seen[kind]})"
        for kind, n in wanted.items()
        if seen[kind] < n
    ]
    dropout = ", and sees dropout as train-mode outputs that change from one pass to the next" \
        if wanted.get("dropout") else ""
    expect(not missing, "Net needs " + "; ".join(missing) + ". Layers must be attributes set in __init__ and used "
                        f"in forward (the grader counts the layers whose weights change Net's output{dropout}).")


@pytest.mark.points(10)
def test_parameter_count(submission, lab, images):
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
    evidence = examine(submission, net.parameters, images(lab.setting("net.batch_sizes")[-1]))
    if evidence.unused:
        fail(f"Net has {total:,} parameters, but setting {', '.join(evidence.unused)} does not change its output: "
             "parameters forward never uses do not count.")
    if evidence.hidden_state:
        fail("With all its parameters set by the grader, Net's output still changes with what Net() draws at "
             "random: a tensor made in __init__ that is not an nn.Parameter (training never changes it, and it is "
             "not counted). Make it an nn.Parameter, or a layer.")


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
    """Net computes the lab's architecture: the same layers, in the same order (checked on weights the grader sets)"""
    arch = Architecture.from_config(lab)
    net = submission.build_net()
    matching = match_parameters(arch.parameter_shapes(), net.parameters)
    if not matching.fits:
        differing = first_difference(arch, net)
        fail(f"{differing} The lab's weights cannot be loaded into Net." if differing else
             describe_mismatch(arch, matching))
    verdict = eval_verdict(submission, arch, matching, images(lab.setting("net.batch_sizes")[-1]))
    if verdict.message is not None:
        fail(verdict.message)
