"""The sandboxed child: ``python -m cnngrade.submission.isolated.child OPTIONS_JSON``.

It serves requests from the grading process with an
:class:`~cnngrade.submission.inprocess.InProcessSubmission`: reads request frames from fd 0, answers on a
private duplicate of the original fd 1, and points fds 0 / 1 / 2 of the student code at
``/dev/null`` / the output log / the output log, so that nothing the student prints can reach
the protocol. Everything the child uses is imported *before* student code runs; a student who
patches torch, builtins or this module afterwards can only change this child's own answers, which
the grading process decodes and checks as untrusted data.
"""

from __future__ import annotations

# Defensive imports: all of them happen before any student code is loaded.
import json
import os
import sys
from pathlib import Path

import numpy  # noqa: F401 - imported before student code on purpose
import torch
import torch.nn  # noqa: F401
import torch.nn.functional  # noqa: F401

import cnngrade
import cnngrade.submission.definitions  # noqa: F401
import cnngrade.submission.layout  # noqa: F401
import cnngrade.submission.loading  # noqa: F401
import cnngrade.submission.net_probe  # noqa: F401
import cnngrade.submission.op_trace  # noqa: F401
import cnngrade.submission.sources  # noqa: F401
from cnngrade.lab.parts import Parts
from cnngrade.submission.errors import WrongReturn, describe_value
from cnngrade.submission.inprocess import InProcessSubmission
from cnngrade.submission.isolated import protocol

_exit = os._exit


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - student __str__
        text = ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def serve(handle: InProcessSubmission, requests: int, answers: int, caps: protocol.Caps) -> None:
    protocol.write_frame(answers, protocol.encode(
        "hello", {"pid": os.getpid(), "torch": torch.__version__, "package": cnngrade.__file__}, caps))
    while True:
        try:
            kind, request = protocol.read_frame(requests, caps)
        except protocol.ChannelClosed:
            return
        if (kind != "request" or not isinstance(request, dict) or set(request) != {"method", "args", "kwargs"}
                or request["method"] not in protocol.METHODS or not isinstance(request["args"], list)
                or not isinstance(request["kwargs"], dict)):
            raise protocol.ProtocolError(f"a bad request: {str(request)[:200]}")
        method = request["method"]
        try:
            result = getattr(handle, method)(*request["args"], **request["kwargs"])
            try:
                frame = protocol.encode("ok", result, caps)
            except protocol.EncodeError as exc:
                raise WrongReturn(
                    f"{method} returned {describe_value(result)}, which cannot be sent back to the grader ({exc})."
                ) from None
        except BaseException as exc:  # noqa: BLE001 - every failure of student code becomes feedback
            frame = protocol.encode("error", protocol.error_payload(exc, f"{method}()"), caps)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110 - a student may have replaced or closed it
                pass
        protocol.write_frame(answers, frame)


def main(argv: list[str]) -> None:
    options = json.loads(argv[1])
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    requests, answers = os.dup(0), os.dup(1)  # non-inheritable: student subprocesses do not get them
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # student prints go to the output log, never to the answers
    caps = protocol.Caps(**options.get("caps", {}))
    handle = InProcessSubmission(Path(options["submission"]), definitions_only=options["definitions_only"],
                                 parts=Parts.from_json(options["parts"]))
    serve(handle, requests, answers, caps)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except BaseException as exc:  # noqa: BLE001
        try:
            os.write(2, f"cnngrade child: {_message(exc)}\n".encode())
        finally:
            _exit(70)
    _exit(0)
