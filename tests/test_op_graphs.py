"""Operator graphs (the "written from scratch" checks): traced where the student code runs
(cnngrade.submission.op_trace), checked and run by the grader (cnngrade.grader.op_graphs), judged
against what the function returned and against torch on shuffled values (cnngrade.grader.checks).
No grading process: forged graphs are built here, as a submission that patched cnngrade could send them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnngrade.grader import op_graphs
from cnngrade.grader.checks import FromScratch, expect_from_scratch
from cnngrade.grader.op_graphs import GraphError, GraphLimits
from cnngrade.lab.config import LabConfig
from cnngrade.submission import op_trace
from cnngrade.submission.errors import StudentCodeError
from cnngrade.submission.handle import OpGraph, OpName, OpNode, OpRef, graph_inputs
from cnngrade.submission.inprocess import InProcessSubmission
from cnngrade.submission.isolated import protocol
from tests.corpus import REFERENCE
from tests.paths import ROOT

X = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(1))
INPUT = OpRef("input", 0)


def node(op: str, *args: object, **kwargs: object) -> OpNode:
    return OpNode(op, args, kwargs)


def refused(graph: OpGraph, inputs: tuple = (X,), limits: GraphLimits = op_graphs.LIMITS) -> str:
    with pytest.raises(GraphError) as caught:
        op_graphs.run(graph, list(inputs), limits)
    return str(caught.value)


@pytest.fixture(scope="module")
def reference() -> InProcessSubmission:
    return InProcessSubmission(REFERENCE)


# --------------------------------------------------------------------------- tracing


@pytest.mark.parametrize(("name", "args"), [
    ("max_pool2d", (X, 2)), ("avg_pool2d", (X[0, 0], 3, 1, 1)), ("unfold", (X, 3, 2, 1)),
    ("fold", (torch.randn(1, 18, 4), (4, 4), 3, 2, 1)), ("conv2d_unfold", (X, torch.randn(3, 2, 2, 2), torch.randn(3))),
])
def test_the_references_trace_has_no_mutation_and_computes_its_result(reference, name, args):
    graph = reference.op_graph(name, *args)
    overloads = op_graphs.validate(graph, len(graph_inputs(args)))
    assert not any(o._schema.is_mutable for o in overloads)
    assert torch.equal(op_graphs.run(graph, graph_inputs(args)), reference.call(name, *args))
    # what crosses the pipe from a sandboxed child: plain data, decoded and checked against OpGraph
    kind, back = protocol.decode(protocol.encode("ok", graph))
    assert protocol.conform(back, OpGraph) == graph


def test_values_read_in_python_become_constants_and_input_writes_are_left_out():
    def pad_with_the_minimum(x):
        low = float(x.min()) - 1  # .item(): a constant of the trace
        out = torch.full((x.shape[0] + 2,), low)
        out[1:-1] = x
        x.mul_(0)  # modifies its argument: functionalization copies back into it, which the graph leaves out
        return out

    x = torch.tensor([3.0, 1.0, 2.0])
    graph = op_trace.trace_call(pad_with_the_minimum, (x.clone(),), {})
    assert {n.op for n in graph.nodes} >= {"aten._local_scalar_dense.default", "aten.slice_scatter.default"}
    assert "aten.copy_.default" not in {n.op for n in graph.nodes}
    assert torch.equal(op_graphs.run(graph, [x]), torch.tensor([0.0, 3.0, 1.0, 2.0, 0.0]))
    # the same values shuffled: the baked-in minimum still fits
    assert torch.equal(op_graphs.run(graph, [torch.tensor([2.0, 3.0, 1.0])]), torch.tensor([0.0, 2.0, 3.0, 1.0, 0.0]))


def test_numpy_underneath_is_a_constant_and_a_students_exception_is_raised_as_such():
    graph = op_trace.trace_call(lambda x: torch.from_numpy(x.numpy() * 2), (X,), {})
    assert torch.equal(op_graphs.run(graph, [X]), X * 2) and not torch.equal(op_graphs.run(graph, [X + 1]), X * 2 + 2)

    def refuses(x):
        raise ValueError("stride should not be zero")

    with pytest.raises(ValueError, match="stride should not be zero"):
        op_trace.trace_call(refuses, (X,), {})


def test_an_untraceable_call_says_so():
    def returns_an_object(x):
        return object()

    with pytest.raises(StudentCodeError, match="returns_an_object could not be traced to torch operators"):
        op_trace.trace_call(returns_an_object, (X,), {})


# --------------------------------------------------------------------------- what the grader refuses


@pytest.mark.parametrize(("graph", "words"), [
    (OpGraph(1, (node("aten.add_.Tensor", INPUT, INPUT),), OpRef("node", 0)), "aten.add_.Tensor, which modifies"),
    (OpGraph(1, (node("aten.add.out", INPUT, INPUT, out=INPUT),), OpRef("node", 0)), "(in place or out=)"),
    (OpGraph(1, (node("aten.randn.default", [2]),), OpRef("node", 0)), "draws random numbers"),
    (OpGraph(1, (node("aten.from_file.default", "/etc/passwd"),), OpRef("node", 0)), "reads a file"),
    (OpGraph(1, (node("aten._print.default", "hi"),), INPUT), "returns nothing"),
    (OpGraph(1, (node("aten.no_such_operator.default", INPUT),), INPUT), "there is no ATen operator"),
    (OpGraph(1, (node("aten.__dict__.default", INPUT),), INPUT), "not the name of an ATen operator"),
    (OpGraph(1, (node("builtins.eval.default", "1"),), INPUT), "not the name of an ATen operator"),
    (OpGraph(1, (node("aten.neg.default", OpRef("node", 0)),), INPUT), "refers to node 0, which it cannot see"),
    (OpGraph(1, (node("aten.neg.default", OpRef("input", 3)),), INPUT), "refers to input 3"),
    (OpGraph(1, (node("aten.zeros.default", [2], device=OpName("device", "cuda")),), INPUT), "device 'cuda'"),
    (OpGraph(1, (node("aten.zeros.default", [2], dtype=OpName("dtype", "Tensor")),), INPUT), "torch does not have"),
    (OpGraph(1, (node("aten.neg.default", INPUT, evil=1),), INPUT), "'evil', which the operator does not take"),
    (OpGraph(2, (), INPUT), "it has 2 inputs; the call had 1 tensors"),
    (OpGraph(1, (node("aten.neg.default", object()),), INPUT), "holds a object"),
])
def test_a_forged_graph_is_refused_before_it_runs(graph, words):
    assert words in refused(graph)


@pytest.mark.parametrize(("graph", "words"), [
    (OpGraph(1, (node("aten.zeros.default", [100_000, 100_000]),), OpRef("node", 0)),
     "its node 0 (aten.zeros.default) would make a tensor of 10,000,000,000 elements"),
    (OpGraph(1, (node("aten.expand.default", INPUT, [10_000, 10_000, 2, 4, 4]),), OpRef("node", 0)),
     "would make a tensor of 3,200,000,000 elements"),
    (OpGraph(1, (node("aten.mul.Tensor", torch.zeros(100_000, 1), torch.zeros(1, 100_000)),), OpRef("node", 0)),
     "would make a tensor of 10,000,000,000 elements"),
    (OpGraph(1, (node("aten.mm.default", torch.zeros(100_000, 1), torch.zeros(1, 100_000)),), OpRef("node", 0)),
     "would make a tensor of 10,000,000,000 elements"),
])
def test_an_oversized_operator_is_refused_before_it_is_computed(graph, words):
    assert words in refused(graph)


def test_the_total_work_and_memory_are_bounded():
    many_sums = OpGraph(1, tuple(node("aten.sum.default", INPUT) for _ in range(100)), INPUT)
    assert "it computes more than the grader allows" in refused(many_sums, limits=GraphLimits(work=1000))
    big = OpGraph(1, (node("aten.zeros.default", [1000, 1000]),) * 3, INPUT)
    assert "MiB of results" in refused(big, limits=GraphLimits(memory=8 << 20))
    product = OpGraph(1, (node("aten.mm.default", OpRef("input", 0), OpRef("input", 0)),), INPUT)
    assert "it computes more than the grader allows" in refused(product, (torch.zeros(300, 300),),
                                                                GraphLimits(work=20_000_000))
    assert "it has 3 operators (the grader runs at most 2)" in refused(
        OpGraph(1, (node("aten.neg.default", INPUT),) * 3, INPUT), limits=GraphLimits(nodes=2))


def test_a_failing_operator_is_the_graphs_failure():
    graph = OpGraph(1, (node("aten.view.default", INPUT, [7]),), OpRef("node", 0))
    assert "its node 0 (aten.view.default) cannot be run: RuntimeError" in refused(graph)


# --------------------------------------------------------------------------- the verdict


class Forged:
    """A submission whose function is torch's own (right values), and whose process sends ``forge(graph)``
    for the real trace of each call: what a submission that patched cnngrade in its child can do."""

    def __init__(self, function, forge) -> None:
        self.function, self.forge = function, forge

    def call(self, name, *args):
        return self.function(*args)

    def op_graph(self, name, *args):
        return self.forge(op_trace.trace_call(self.function, args, {}), args)


POOLING = FromScratch.from_lab(LabConfig.load(ROOT / "graders" / "lab.toml"), "pooling")
CALLS = {"max_pool2d": [(X, 2)]}


def verdict(submission) -> str:
    try:
        expect_from_scratch(submission, CALLS, POOLING, {"max_pool2d": F.max_pool2d})
    except pytest.fail.Exception as exc:
        return str(exc)
    return "passed"


def test_the_honest_trace_of_torchs_pooling_names_the_operator():
    message = verdict(Forged(F.max_pool2d, lambda graph, args: graph))
    assert message.startswith("max_pool2d uses torch's own aten.max_pool2d_with_indices (run by F.max_pool2d")


def test_a_graph_with_the_answer_baked_in_is_caught_on_shuffled_values():
    message = verdict(Forged(F.max_pool2d, lambda graph, args: OpGraph(1, (), F.max_pool2d(*args))))
    assert message.startswith("The grader could not reproduce max_pool2d from its operator trace on new values: "
                              "the trace of max_pool2d(<tensor of shape (1, 2, 4, 4)>, 2) run on the same values "
                              "shuffled does not give torch's result.")


def test_a_graph_with_the_forbidden_operator_renamed_does_not_compute_what_was_returned():
    def renamed(graph, args):
        return OpGraph(graph.inputs, tuple(OpNode("aten.clone.default", n.args[:1], {}) if "pool" in n.op else n
                                           for n in graph.nodes), graph.output)

    message = verdict(Forged(F.max_pool2d, renamed))
    assert message.startswith("The operator trace recorded for max_pool2d(<tensor of shape (1, 2, 4, 4)>, 2) could "
                              "not be run: its output uses result 0 of node 0, which has no such result.")
    kept = Forged(F.max_pool2d, lambda graph, args: OpGraph(1, (node("aten.neg.default", INPUT),), OpRef("node", 0)))
    assert verdict(kept).startswith("The operator trace recorded for max_pool2d(<tensor of shape (1, 2, 4, 4)>, 2) "
                                    "does not compute what max_pool2d returned (the grader ran it on the same input).")


def test_a_from_scratch_graph_of_a_constant_input_is_caught_on_shuffled_values(reference):
    def baked_input(graph, args):  # the reference's own trace, its input replaced by a constant copy
        return OpGraph(1, tuple(OpNode(n.op, tuple(X.clone() if isinstance(a, OpRef) and a == INPUT else a
                                                   for a in n.args), n.kwargs) for n in graph.nodes), graph.output)

    class Baked(Forged):
        def op_graph(self, name, *args):
            return baked_input(reference.op_graph(name, *args), args)

    assert verdict(Baked(F.max_pool2d, None)).startswith("The grader could not reproduce max_pool2d")


def test_a_from_scratch_trace_passes_and_a_wrong_function_is_sent_to_its_own_checks(reference):
    class Honest:
        def call(self, name, *args):
            return reference.call(name, *args)

        def op_graph(self, name, *args):
            return reference.op_graph(name, *args)

    assert verdict(Honest()) == "passed"

    class Wrong(Honest):
        def call(self, name, *args):
            return reference.call(name, *args) + 1

    assert verdict(Wrong()) == (
        "Fix max_pool2d first (see its other checks): max_pool2d(<tensor of shape (1, 2, 4, 4)>, 2) does not give "
        "torch's result, and the grader checks that it is written from scratch by replaying the operations it runs "
        "on new values, which must give torch's result too.")
