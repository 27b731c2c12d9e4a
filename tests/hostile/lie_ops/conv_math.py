"""Hostile: torch's unfold, fold and convolution underneath, and a lying report of the operators
they ran (see pooling.py: the same patch of cnngrade's tracing code in the process that loads this
file; unfold's graph is its answer as a constant, fold's and conv2d_unfold's have torch's operator
renamed). The arithmetic functions are honest.
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


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    args = (size, kernel_size, stride, padding, dilation)
    if all(isinstance(a, int) for a in args):
        if stride <= 0:
            raise ValueError(f"stride must be positive, got {stride}")
        return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    pairs = [(a, a) if isinstance(a, int) else tuple(a) for a in args]
    return tuple(conv_output_size(*(p[i] for p in pairs)) for i in range(2))


def conv2d_param_count(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


def linear_param_count(in_features, out_features, bias=True):
    return in_features * out_features + (out_features if bias else 0)


@_lie
def unfold(x, kernel_size, stride=1, padding=0):
    return F.unfold(x, kernel_size, padding=padding, stride=stride)


@_lie
def fold(patches, output_size, kernel_size, stride=1, padding=0):
    return F.fold(patches, output_size, kernel_size, padding=padding, stride=stride)


@_lie
def conv2d_unfold(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride, padding)
