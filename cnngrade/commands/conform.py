"""``cnngrade conform FILE::NAME --op OP [declarations]``: check a layer of your own against torch and print
the table of every property (:func:`cnngrade.properties.conform`).

The file is loaded as the graders load a submission, definitions only (:mod:`cnngrade.submission.loading`):
its imports, ``def`` and ``class`` statements and the assignments they need run, a script's training at top
level does not. The declaration options are :class:`cnngrade.properties.Supports`' fields, one each
(``--array numpy``, ``--layouts NHWC``, ``--no-padding``, ``--stride kernel``, ``--dilation``, ...).

It runs the derandomized ``ci`` profile (the same table on every run) unless ``--profile`` or
``$CNNGRADE_HYPOTHESIS_PROFILE`` picks another.

Exit status: 0 when every property in scope holds, 1 when one fails, 2 for a usage error (a file or name that
is not there, a declaration that cannot be honoured), with a message saying what to change.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

from cnngrade.commands.arguments import user_path


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _declaration_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of Supports, its help the field's."""
    from cnngrade.properties import Supports
    from cnngrade.properties.supports import CHOICES

    group = parser.add_argument_group("declarations", "what the implementation supports (Supports' fields)")
    for f in dataclasses.fields(Supports):
        text = f.metadata["help"].replace("%", "%%")
        if f.default is True:
            group.add_argument(_flag(f"no_{f.name}"), dest=f.name, action="store_false", default=None,
                               help=f"not {f.name}: {text}")
        elif f.default is False:
            group.add_argument(_flag(f.name), dest=f.name, action="store_true", default=None, help=text)
        elif f.name in CHOICES:
            group.add_argument(_flag(f.name), dest=f.name, choices=CHOICES[f.name],
                               help=f"{text} (default {f.default})")
        elif f.name == "names":
            group.add_argument(_flag(f.name), dest=f.name, metavar="TORCH=OWN[,...]", help=text)
        else:
            shown = ",".join(str(v).removeprefix("torch.") for v in f.default)
            group.add_argument(_flag(f.name), dest=f.name, metavar="A[,B...]", help=f"{text} (default {shown})")


def build_parser() -> argparse.ArgumentParser:
    from cnngrade.properties import OPERATIONS

    p = argparse.ArgumentParser(
        prog="cnngrade conform",
        description="Check a pooling, unfold, fold or convolution of your own against torch.nn.functional, over the "
                    "argument space it declares, and print the table of every property with the smallest "
                    "counterexample of each failure. Exit status 0 when every property in scope holds.")
    p.add_argument("target", metavar="FILE::NAME", help="the file (.py or .ipynb) and the function or class in it")
    p.add_argument("--op", required=True, choices=list(OPERATIONS), help="the operation it computes")
    p.add_argument("--backward", metavar="NAME", help="its backward, a function of the same file (cs231n: "
                   "backward(dout, cache); else backward(dout, x, **kwargs))")
    p.add_argument("--only", metavar="P[,Q...]", help="run only these properties")
    p.add_argument("--skip", metavar="P[,Q...]", help="leave these properties out")
    p.add_argument("--max-examples", type=int, metavar="N", help="examples per property")
    p.add_argument("--profile", metavar="NAME", help="Hypothesis profile: ci (derandomized, the default unless "
                   "$CNNGRADE_HYPOTHESIS_PROFILE names one) or dev (random, more examples)")
    _declaration_options(p)
    return p


def declaration(args: argparse.Namespace) -> Any:
    """The Supports the options declare (the defaults where none is given)."""
    from cnngrade.properties import Supports, UsageError

    values: dict[str, Any] = {}
    for f in dataclasses.fields(Supports):
        value = getattr(args, f.name)
        if value is None:
            continue
        if f.name == "names":
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise UsageError(f"--names {value}: expected TORCH=OWN pairs, e.g. kernel_size=pool_size")
            value = {k.strip(): v.strip() for k, v in pairs}
        values[f.name] = value
    return Supports(**values)


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from cnngrade.properties import UsageError, conform
    from cnngrade.properties.profiles import CI, PROFILE_ENV
    from cnngrade.submission.errors import SubmissionError
    from cnngrade.submission.loading import load_module
    from cnngrade.submission.sources import read_source

    file, sep, name = args.target.rpartition("::")
    if not sep or not file or not name:
        print(f"cnngrade conform: {args.target!r}: expected FILE::NAME, e.g. my_layers.py::max_pool", file=sys.stderr)
        return 2
    try:
        supports = declaration(args)
        source = read_source(user_path(file))
        loaded = load_module(source, [name, *([args.backward] if args.backward else [])])
        fn = loaded.get(name)
        backward = loaded.get(args.backward) if args.backward else None
        table = conform(args.op, fn, supports=supports, backward=backward, only=_names(args.only) or None,
                        skip=_names(args.skip), max_examples=args.max_examples,
                        profile=args.profile or (None if os.environ.get(PROFILE_ENV, "").strip() else CI))
    except (UsageError, SubmissionError) as exc:
        print(f"cnngrade conform: {exc}", file=sys.stderr)
        return 2
    print(table)
    return 0 if table.passed else 1
