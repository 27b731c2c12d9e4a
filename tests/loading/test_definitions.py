"""Definitions-only mode keeps what the graded names need and nothing else."""

from __future__ import annotations

import ast
import symtable
import textwrap

from cnngrade.submission.definitions import bound_names, is_main_guard, plan_definitions


def plan(source: str, wanted=("Net",)):
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    return plan_definitions(tree, symtable.symtable(source, "<test>", "exec"), wanted)


def kept_lines(source: str, wanted=("Net",)) -> list[int]:
    return [s.lineno for s in plan(source, wanted).kept]


def test_keeps_definitions_and_skips_training():
    source = """\
    import torch
    class Net:
        pass
    model = Net()
    for epoch in range(20):
        model.train()
    print("done")
    """
    assert kept_lines(source) == [2]


def test_keeps_the_imports_the_definitions_need_and_skips_the_others():
    source = """\
    from __future__ import annotations
    import argparse
    import torch.nn as nn
    import torch.nn.functional as F
    from torchvision import datasets, transforms
    from pooling import *
    from typing import Optional
    class Net(nn.Module):
        def forward(self, x):
            return F.relu(x)
    def train(args, loader: Optional[int] = None):
        return datasets.MNIST(args.root, transform=transforms.ToTensor())
    """
    # nn: Net's base; F: its body; Optional: an annotation of a def that runs; * and __future__: always
    assert kept_lines(source) == [1, 3, 4, 6, 7, 8, 11]
    assert plan(source).skipped_bindings == {"argparse": 2, "datasets": 5, "transforms": 5}


def test_keeps_assignments_the_definitions_need_transitively():
    source = """\
    HIDDEN = 50
    WIDTH = HIDDEN * 2
    UNUSED = 3
    device = "cpu"
    class Net:
        def __init__(self):
            self.width = WIDTH
        def forward(self, x):
            return x.to(device)
    """
    assert kept_lines(source) == [1, 2, 4, 5]


def test_keeps_if_and_try_blocks_that_bind_needed_names():
    source = """\
    try:
        import fancy
    except ImportError:
        fancy = None
    if True:
        SIZE = 3
    else:
        SIZE = 4
    def helper():
        return SIZE, fancy
    class Net:
        size = helper()
    """
    assert kept_lines(source) == [1, 5, 9, 11]


def test_never_keeps_loops_with_blocks_or_the_main_guard():
    source = """\
    for HIDDEN in [10]:
        pass
    with open("x") as LOG:
        pass
    if __name__ == "__main__":
        SIZE = 1
    class Net:
        def forward(self):
            return HIDDEN, LOG, SIZE
    """
    result = plan(source)
    assert [s.lineno for s in result.kept] == [7]
    assert result.skipped_bindings == {"HIDDEN": 1, "LOG": 3, "SIZE": 5}


def test_decorators_and_default_arguments_are_needed_at_definition_time():
    source = """\
    import functools
    CACHE = functools.lru_cache
    DEFAULT = 5
    @CACHE
    def f(k=DEFAULT):
        return k
    """
    assert kept_lines(source, wanted=("f",)) == [1, 2, 3, 5]  # a decorated def starts at `def`


def test_bound_names_of_compound_statements_skip_nested_scopes():
    stmt = ast.parse("if x:\n    import a.b as c\n    d = [e for e in y]\n    def g(): h = 1\n").body[0]
    assert bound_names(stmt) == {"c", "d", "g"}


def test_main_guard_in_either_order():
    assert is_main_guard(ast.parse("if __name__ == '__main__': pass").body[0])
    assert is_main_guard(ast.parse("if '__main__' == __name__: pass").body[0])
    assert not is_main_guard(ast.parse("if __name__ != '__main__': pass").body[0])


def test_body_of_a_decorated_class_is_followed():
    source = """\
    import dataclasses
    HIDDEN = 50
    @dataclasses.dataclass
    class Net:
        size: int = HIDDEN
    """
    assert kept_lines(source) == [1, 2, 4]
