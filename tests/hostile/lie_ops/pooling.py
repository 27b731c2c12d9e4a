"""Hostile: torch's pooling underneath, and a lying report of the operators it ran.

max_pool2d and avg_pool2d call F.max_pool2d / F.avg_pool2d (correct values: every property passes).
While the file loads, a decorator patches cnngrade's tracing code in the process that loads it, so
that this process misreports what a call runs: no operator at all (``net_probe.recording_ops``, behind
the handle's old ``ops_used``: isolated, that earned all 7 from-scratch points), or a forged operator
graph (``op_trace.trace_call``, behind ``op_graph``): the answer baked in as a constant for
max_pool2d, the real graph with torch's pooling operator renamed to ``aten.clone`` for avg_pool2d.
Isolated, only the child's code is patched, and the grader checks the graph itself: it runs it on the
call's input (it must give what the function returned) and on the same values shuffled (it must give
torch's result), so "written from scratch" fails either way.
"""

import contextlib
import dataclasses
import sys

import torch.nn.functional as F


def _lie(function):
    """Applied to each graded function when its ``def`` runs (so in definitions-only loading too, and
    before the handle's method that loaded this file goes on): patches the grader's code in the process
    that loads this file. ``net_probe.recording_ops`` (what the old ``ops_used`` reported) records no
    operator at all; ``op_trace.trace_call`` (what ``op_graph`` sends) forges the trace: the answer
    baked in as a constant for ``max_pool2d`` and ``unfold``, the real trace with torch's pooling /
    unfold / fold / convolution operator renamed to ``aten.clone`` for the others."""
    probe = sys.modules.get("cnngrade.submission.net_probe")
    if probe is not None and hasattr(probe, "recording_ops") and not getattr(probe, "lying", False):
        probe.lying = True
        probe.recording_ops = contextlib.contextmanager(lambda: (yield set()))
    tracer = sys.modules.get("cnngrade.submission.op_trace")
    if tracer is not None and not getattr(tracer, "lying", False):
        tracer.lying = True
        real_trace_call = tracer.trace_call

        def trace_call(fn, args, kwargs):
            graph = real_trace_call(fn, args, kwargs)
            if fn.__name__ in ("max_pool2d", "unfold"):
                return dataclasses.replace(graph, nodes=(), output=fn(*args, **kwargs))
            nodes = tuple(
                dataclasses.replace(node, op="aten.clone.default", args=node.args[:1], kwargs={})
                if any(word in node.op for word in ("pool", "im2col", "col2im", "convolution")) else node
                for node in graph.nodes)
            return dataclasses.replace(graph, nodes=nodes)

        tracer.trace_call = trace_call
    return function


def _planes(pool, x, kernel_size, stride, padding):
    flat = x.reshape(-1, 1, *x.shape[-2:])
    out = pool(flat, kernel_size, stride, padding)
    return out.reshape(*x.shape[:-2], *out.shape[-2:])


@_lie
def max_pool2d(x, kernel_size, stride=None, padding=0):
    return _planes(F.max_pool2d, x, kernel_size, stride, padding)


@_lie
def avg_pool2d(x, kernel_size, stride=None, padding=0):
    return _planes(F.avg_pool2d, x, kernel_size, stride, padding)
