"""The wire format between the grading process and the sandboxed child.

One *frame* carries one message::

    4 bytes    big-endian length H of the header
    H bytes    UTF-8 JSON header: {"kind": ..., "v": <value tree>, "b": [n0, n1, ...]}
    n0 + n1 + ... bytes    the raw bytes of the arrays the value tree refers to, in order

Values in the tree are JSON scalars and lists, plus tagged objects (``{"$": tag, ...}``) for
what JSON cannot say: tuples, dicts (any primitive keys), non-finite floats, tensors and numpy
arrays (dtype and shape in the header, bytes after it), ``torch.dtype`` / ``torch.device`` and
the dataclasses of :mod:`cnngrade.submission.handle`. Nothing is ever unpickled: the receiver rebuilds
tensors with :func:`numpy.frombuffer` from an allow-list of dtypes, checks the byte count against
the shape, and rebuilds dataclasses only from an allow-list, checking every field against its
type annotation. Every size is capped (:class:`Caps`); anything else is a :class:`ProtocolError`.

Errors travel as ``{"kind": "error", "v": {"type": <SubmissionError subclass name>, "message":
str}}`` and are raised again on the other side as that class (unknown names become
:class:`~cnngrade.submission.errors.StudentCodeError`).

One module, though long: the encoder, the decoder and the frame reader are one format, and a
decoder split from its encoder is how such formats drift apart; the decoder is most of it, because
every value it accepts is checked.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
import select
import struct
import time
import types
import typing
from typing import Any

import numpy as np
import torch

from cnngrade.submission import errors, handle
from cnngrade.submission.isolated.limits import Caps

_LENGTH = struct.Struct(">I")
_os_read, _os_write, _os_readv = os.read, os.write, os.readv

KINDS = frozenset({"hello", "request", "ok", "error"})
#: The methods a request may name: the abstract methods of the Submission handle, nothing else.
METHODS = frozenset(handle.Submission.__abstractmethods__)


DEFAULT_CAPS = Caps()
#: Characters of an error message kept; the rest is cut.
MESSAGE_CHARS = 8000


class ProtocolError(Exception):
    """A frame that breaks the protocol: malformed, oversized or of an unexpected type."""


class ChannelClosed(ProtocolError):
    """The other side closed the pipe (at a frame boundary when ``clean``)."""

    def __init__(self, message: str, *, clean: bool) -> None:
        super().__init__(message)
        self.clean = clean


class ChannelTimeout(ProtocolError):
    """The deadline passed before the whole frame could be read or written."""


# --------------------------------------------------------------------------- dtypes

#: dtype name -> (torch dtype, numpy dtype of the raw bytes, little-endian)
_DTYPES: dict[str, tuple[torch.dtype, np.dtype]] = {
    "bool": (torch.bool, np.dtype("?")),
    "uint8": (torch.uint8, np.dtype("u1")),
    "int8": (torch.int8, np.dtype("i1")),
    "int16": (torch.int16, np.dtype("<i2")),
    "int32": (torch.int32, np.dtype("<i4")),
    "int64": (torch.int64, np.dtype("<i8")),
    "float16": (torch.float16, np.dtype("<f2")),
    "bfloat16": (torch.bfloat16, np.dtype("<u2")),  # raw bits; viewed as bfloat16 by torch
    "float32": (torch.float32, np.dtype("<f4")),
    "float64": (torch.float64, np.dtype("<f8")),
}
_TORCH_NAMES = {torch_dtype: name for name, (torch_dtype, _) in _DTYPES.items()}
_NUMPY_NAMES = {"?": "bool", "u1": "uint8", "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
                "f2": "float16", "f4": "float32", "f8": "float64"}
_DEVICE = re.compile(r"^(cpu|cuda|mps|meta)(:[0-9]{1,3})?$")

# --------------------------------------------------------------------------- allow-lists


def _handle_dataclasses() -> dict[str, type]:
    """Every dataclass defined in :mod:`cnngrade.submission.handle`, by name: what may cross the pipe."""
    return {
        name: obj for name, obj in vars(handle).items()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == handle.__name__
    }


def _submission_errors() -> dict[str, type[errors.SubmissionError]]:
    """Every SubmissionError subclass defined in cnngrade, by name (the error types that may cross)."""
    found: dict[str, type[errors.SubmissionError]] = {}
    pending = [errors.SubmissionError]
    while pending:
        cls = pending.pop()
        if cls.__module__.split(".")[0] == "cnngrade" and cls.__name__ not in found:
            found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


DATACLASSES = _handle_dataclasses()
_FIELD_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _FIELD_HINTS:
        resolved = typing.get_type_hints(cls)
        _FIELD_HINTS[cls] = {f.name: resolved[f.name] for f in dataclasses.fields(cls)}
    return _FIELD_HINTS[cls]


def error_class(name: object) -> type[errors.SubmissionError]:
    """The SubmissionError subclass called ``name``; StudentCodeError for anything unknown."""
    if isinstance(name, str):
        cls = _submission_errors().get(name)
        if cls is not None:
            return cls
    return errors.StudentCodeError


def make_error(type_name: object, message: object, fields: object = None) -> errors.SubmissionError:
    """The exception the parent raises for an error frame from the child.

    ``fields`` (str -> str) fill the class's other constructor parameters of those names, such
    as StudentCodeError's ``exception_type``; anything else is ignored.
    """
    text = clip(message if isinstance(message, str) else repr(message)[:MESSAGE_CHARS])
    cls = error_class(type_name)
    extra: dict[str, str] = {}
    if isinstance(fields, dict):
        try:
            accepted = set(inspect.signature(cls).parameters) - {"message"}
        except (TypeError, ValueError):
            accepted = set()
        extra = {k: clip(v, 200) for k, v in list(fields.items())[:16]
                 if isinstance(k, str) and k in accepted and isinstance(v, str)}
    try:
        return cls(text, **extra)
    except Exception:  # a subclass with another constructor signature
        return errors.StudentCodeError(text)


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f" ... [{len(text) - limit + 40} more characters cut]"


# --------------------------------------------------------------------------- encoding


class EncodeError(Exception):
    """A value that cannot cross the pipe (an object of an unsupported type, too big)."""


class _Encoder:
    def __init__(self, caps: Caps) -> None:
        self.caps = caps
        self.buffers: list[bytes] = []
        self.array_bytes = 0
        self.items = 0

    def array(self, tag: str, dtype_name: str, shape: tuple[int, ...], data: bytes) -> dict:
        if len(self.buffers) >= self.caps.arrays:
            raise EncodeError(f"more than {self.caps.arrays} arrays")
        self.array_bytes += len(data)
        if self.array_bytes > self.caps.array_bytes:
            raise EncodeError(f"more than {self.caps.array_bytes >> 20} MiB of array data")
        self.buffers.append(data)
        return {"$": tag, "dtype": dtype_name, "shape": list(shape), "b": len(self.buffers) - 1}

    def value(self, value: object, depth: int = 0) -> object:
        if depth > self.caps.depth:
            raise EncodeError(f"nested deeper than {self.caps.depth} levels")
        self.items += 1
        if self.items > self.caps.items:
            raise EncodeError(f"more than {self.caps.items} values")
        if value is None or type(value) is bool:
            return value
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | np.integer):
            number = int(value)
            if number.bit_length() > self.caps.int_bits:
                raise EncodeError(f"an integer of more than {self.caps.int_bits} bits")
            return number
        if isinstance(value, float | np.floating):
            number = float(value)
            if math.isfinite(number):
                return number
            return {"$": "float", "v": "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")}
        if isinstance(value, str):
            text = str.__str__(value)
            if len(text) > self.caps.string_chars:
                raise EncodeError(f"a string of more than {self.caps.string_chars} characters")
            return text
        if isinstance(value, torch.Tensor):
            return self.tensor(value)
        if isinstance(value, np.ndarray):
            return self.ndarray(value)
        if isinstance(value, torch.dtype):
            if value not in _TORCH_NAMES:
                raise EncodeError(f"the dtype {value}")
            return {"$": "dtype", "v": _TORCH_NAMES[value]}
        if isinstance(value, torch.device):
            return {"$": "device", "v": str(value)}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = type(value).__name__
            if DATACLASSES.get(name) is not type(value):
                raise EncodeError(f"a {name} object")
            return {"$": "dc", "name": name,
                    "v": {f.name: self.value(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}}
        if isinstance(value, tuple):  # torch.Size included
            return {"$": "tuple", "v": [self.value(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in list.__iter__(value)]
        if isinstance(value, dict):
            pairs = []
            for key, item in dict.items(value):
                if key is not None and not isinstance(key, str | int | float | bool):
                    raise EncodeError(f"a dict key of type {type(key).__name__}")
                pairs.append([self.value(key, depth + 1), self.value(item, depth + 1)])
            return {"$": "dict", "v": pairs}
        raise EncodeError(f"a {type(value).__name__} object")

    def tensor(self, value: torch.Tensor) -> dict:
        try:
            return self._tensor(value)
        except EncodeError:
            raise
        except Exception as exc:  # an object that only pretends to be a tensor
            raise EncodeError(
                f"a {type(value).__name__} object that is not a real tensor ({type(exc).__name__})") from None

    def _tensor(self, value: torch.Tensor) -> dict:
        with torch._C.DisableTorchFunction():
            plain = torch.Tensor.as_subclass(torch.Tensor.detach(value), torch.Tensor)
            if plain.dtype not in _TORCH_NAMES:
                raise EncodeError(f"a tensor of dtype {plain.dtype}")
            if plain.layout != torch.strided:
                plain = plain.to_dense()
            plain = plain.to("cpu").contiguous()
            name = _TORCH_NAMES[plain.dtype]
            if plain.dim() > self.caps.ndim:
                raise EncodeError(f"a tensor of more than {self.caps.ndim} dimensions")
            if plain.numel() * plain.element_size() > self.caps.array_bytes:
                raise EncodeError(f"a tensor of more than {self.caps.array_bytes >> 20} MiB")
            bits = plain.view(torch.int16) if name == "bfloat16" else plain
            data = bits.numpy().astype(_DTYPES[name][1], copy=False).tobytes()
        return self.array("tensor", name, tuple(int(s) for s in plain.shape), data)

    def ndarray(self, value: np.ndarray) -> dict:
        key = value.dtype.str.lstrip("<>|=")
        if key not in _NUMPY_NAMES or value.dtype.byteorder == ">":
            raise EncodeError(f"a numpy array of dtype {value.dtype}")
        name = _NUMPY_NAMES[key]
        if value.ndim > self.caps.ndim:
            raise EncodeError(f"an array of more than {self.caps.ndim} dimensions")
        data = np.ascontiguousarray(value).astype(_DTYPES[name][1], copy=False).tobytes()
        return self.array("ndarray", name, tuple(int(s) for s in value.shape), data)


def encode(kind: str, value: object, caps: Caps = DEFAULT_CAPS) -> bytes:
    """One frame carrying ``value`` as a message of ``kind``; :class:`EncodeError` if it cannot."""
    assert kind in KINDS
    encoder = _Encoder(caps)
    tree = encoder.value(value)
    header = json.dumps({"kind": kind, "v": tree, "b": [len(b) for b in encoder.buffers]},
                        allow_nan=False, separators=(",", ":")).encode("utf-8")
    if len(header) > caps.header_bytes:
        raise EncodeError(f"a header of more than {caps.header_bytes >> 20} MiB")
    return b"".join([_LENGTH.pack(len(header)), header, *encoder.buffers])


# --------------------------------------------------------------------------- decoding


def _reject_constant(name: str) -> object:
    raise ProtocolError(f"the non-JSON constant {name}")


class _Decoder:
    def __init__(self, buffers: list[memoryview], caps: Caps) -> None:
        self.buffers = buffers
        self.used: set[int] = set()
        self.caps = caps
        self.items = 0

    def value(self, node: object, depth: int = 0) -> object:
        if depth > self.caps.depth:
            raise ProtocolError(f"values nested deeper than {self.caps.depth} levels")
        self.items += 1
        if self.items > self.caps.items:
            raise ProtocolError(f"more than {self.caps.items} values")
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, int):
            if node.bit_length() > self.caps.int_bits:
                raise ProtocolError(f"an integer of more than {self.caps.int_bits} bits")
            return node
        if isinstance(node, float):
            return node
        if isinstance(node, str):
            if len(node) > self.caps.string_chars:
                raise ProtocolError(f"a string of more than {self.caps.string_chars} characters")
            return node
        if isinstance(node, list):
            return [self.value(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            raise ProtocolError(f"a JSON value of type {type(node).__name__}")
        tag = node.get("$")
        if tag == "tuple":
            return tuple(self.value(v, depth + 1) for v in self._list(node, "v"))
        if tag == "dict":
            result: dict = {}
            for pair in self._list(node, "v"):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("a dict entry that is not a [key, value] pair")
                key = self.value(pair[0], depth + 1)
                if key is not None and not isinstance(key, str | int | float | bool):
                    raise ProtocolError(f"a dict key of type {type(key).__name__}")
                result[key] = self.value(pair[1], depth + 1)
            return result
        if tag == "float":
            self._keys(node, {"$", "v"})
            special = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
            if node["v"] not in special:
                raise ProtocolError(f"the float {node['v']!r}")
            return special[node["v"]]
        if tag in ("tensor", "ndarray"):
            return self.array(node)
        if tag == "dtype":
            self._keys(node, {"$", "v"})
            if node["v"] not in _DTYPES:
                raise ProtocolError(f"the dtype {node['v']!r}")
            return _DTYPES[node["v"]][0]
        if tag == "device":
            self._keys(node, {"$", "v"})
            if not isinstance(node["v"], str) or not _DEVICE.match(node["v"]):
                raise ProtocolError(f"the device {node['v']!r}")
            return torch.device(node["v"])
        if tag == "dc":
            return self.dataclass(node, depth)
        raise ProtocolError(f"an object tagged {str(tag)[:40]!r}")

    @staticmethod
    def _keys(node: dict, keys: set[str]) -> None:
        if set(node) != keys:
            raise ProtocolError(f"a {node.get('$')!r} object with fields {sorted(node)[:10]}")

    def _list(self, node: dict, key: str) -> list:
        self._keys(node, {"$", key})
        if not isinstance(node[key], list):
            raise ProtocolError(f"a {node['$']!r} object without a list")
        return node[key]

    def array(self, node: dict) -> object:
        self._keys(node, {"$", "dtype", "shape", "b"})
        name, shape, index = node["dtype"], node["shape"], node["b"]
        if name not in _DTYPES:
            raise ProtocolError(f"an array of dtype {str(name)[:40]!r}")
        if (not isinstance(shape, list) or len(shape) > self.caps.ndim
                or not all(type(s) is int and 0 <= s <= self.caps.array_bytes for s in shape)):
            raise ProtocolError(f"an array shape {str(shape)[:80]}")
        if type(index) is not int or not 0 <= index < len(self.buffers) or index in self.used:
            raise ProtocolError(f"an array buffer reference {str(index)[:20]}")
        self.used.add(index)
        torch_dtype, raw = _DTYPES[name]
        count = math.prod(shape)
        data = self.buffers[index]
        if count * raw.itemsize != len(data):
            raise ProtocolError(
                f"an array of shape {tuple(shape)} and dtype {name} with {len(data)} bytes "
                f"(it needs {count * raw.itemsize})"
            )
        array = np.frombuffer(data, dtype=raw, count=count).reshape(shape).copy()
        if node["$"] == "ndarray":
            return array
        tensor = torch.from_numpy(array)
        return tensor.view(torch.bfloat16) if name == "bfloat16" else tensor

    def dataclass(self, node: dict, depth: int) -> object:
        self._keys(node, {"$", "name", "v"})
        cls = DATACLASSES.get(node["name"]) if isinstance(node["name"], str) else None
        if cls is None:
            raise ProtocolError(f"an object of the unknown type {str(node['name'])[:40]!r}")
        fields = node["v"]
        hints = _hints(cls)
        if not isinstance(fields, dict) or set(fields) != set(hints):
            raise ProtocolError(f"a {cls.__name__} with the wrong fields")
        values = {}
        for name, hint in hints.items():
            value = self.value(fields[name], depth + 1)
            values[name] = conform(value, hint, f"{cls.__name__}.{name}")
        return cls(**values)


def conform(value: object, hint: object, where: str = "value") -> object:
    """``value`` checked against the type annotation ``hint`` (ints widened to floats where a
    float is expected, lists turned into tuples where a tuple is); :class:`ProtocolError` if it
    does not match."""
    if hint is Any or hint is object:
        return value
    if hint is None or hint is type(None):
        if value is None:
            return None
        raise ProtocolError(f"{where} is {_kind(value)}, not None")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return conform(value, option, where)
            except ProtocolError:
                continue
        raise ProtocolError(f"{where} is {_kind(value)}, not {_hint_name(hint)}")
    if hint is float:
        if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
            return float(value)
        raise ProtocolError(f"{where} is {_kind(value)}, not a float")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ProtocolError(f"{where} is {_kind(value)}, not an int")
    if hint in (bool, str):
        if type(value) is hint:
            return value
        raise ProtocolError(f"{where} is {_kind(value)}, not a {hint.__name__}")
    if hint is torch.Tensor:
        if type(value) is torch.Tensor:
            return value
        raise ProtocolError(f"{where} is {_kind(value)}, not a tensor")
    if hint is np.ndarray:
        if type(value) is np.ndarray:
            return value
        raise ProtocolError(f"{where} is {_kind(value)}, not a numpy array")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if type(value) is hint:
            return value
        raise ProtocolError(f"{where} is {_kind(value)}, not a {hint.__name__}")
    if origin is tuple:
        if not isinstance(value, tuple | list):
            raise ProtocolError(f"{where} is {_kind(value)}, not a tuple")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(conform(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ProtocolError(f"{where} has {len(value)} items, not {len(args)}")
        return tuple(conform(v, h, f"{where}[{i}]") for i, (v, h) in enumerate(zip(value, args, strict=True)))
    if origin is list:
        if not isinstance(value, list):
            raise ProtocolError(f"{where} is {_kind(value)}, not a list")
        return [conform(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)] if args else value
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where} is {_kind(value)}, not a dict")
        if not args:
            return value
        return {conform(k, args[0], f"{where} key"): conform(v, args[1], f"{where}[{k!r}]")
                for k, v in value.items()}
    if origin is typing.Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise ProtocolError(f"{where} is {value!r}, not one of {args}")
    if isinstance(hint, type):
        if type(value) is hint:
            return value
        raise ProtocolError(f"{where} is {_kind(value)}, not a {hint.__name__}")
    raise ProtocolError(f"{where} has the annotation {str(hint)[:80]}, which the protocol cannot check")


def _kind(value: object) -> str:
    return errors.describe_value(value)


def _hint_name(hint: object) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _document(header: bytes, caps: Caps) -> tuple[dict, list[int]]:
    try:
        document = json.loads(header.decode("utf-8"), parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"a header that is not JSON ({type(exc).__name__})") from None
    if not isinstance(document, dict) or set(document) != {"kind", "v", "b"}:
        raise ProtocolError("a header without exactly the fields kind, v and b")
    if document["kind"] not in KINDS:
        raise ProtocolError(f"a message of kind {str(document['kind'])[:40]!r}")
    sizes = document["b"]
    if (not isinstance(sizes, list) or len(sizes) > caps.arrays
            or not all(type(n) is int and 0 <= n <= caps.array_bytes for n in sizes)):
        raise ProtocolError("a header with an invalid list of array sizes")
    if sum(sizes) > caps.array_bytes:
        raise ProtocolError(f"more than {caps.array_bytes >> 20} MiB of array data")
    return document, sizes


def _finish(document: dict, sizes: list[int], payload: memoryview, caps: Caps) -> tuple[str, object]:
    if sum(sizes) != len(payload):
        raise ProtocolError("array bytes that do not match the header")
    buffers, offset = [], 0
    for size in sizes:
        buffers.append(payload[offset: offset + size])
        offset += size
    try:
        value = _Decoder(buffers, caps).value(document["v"])
    except RecursionError:
        raise ProtocolError("values nested too deeply") from None
    return document["kind"], value


def decode(frame: bytes, caps: Caps = DEFAULT_CAPS) -> tuple[str, object]:
    """(kind, value) of one whole frame held in memory."""
    view = memoryview(frame)
    if len(view) < 4:
        raise ProtocolError("a frame shorter than its length prefix")
    (length,) = _LENGTH.unpack(view[:4])
    if length > caps.header_bytes or 4 + length > len(view):
        raise ProtocolError("a header longer than the frame or the cap")
    document, sizes = _document(bytes(view[4: 4 + length]), caps)
    return _finish(document, sizes, view[4 + length:], caps)


# --------------------------------------------------------------------------- pipes


def read_frame(fd: int, caps: Caps = DEFAULT_CAPS, deadline: float | None = None) -> tuple[str, object]:
    """Read one frame from ``fd`` (blocking, or until ``deadline`` on a non-blocking fd)."""
    prefix = _read_exact(fd, 4, deadline, at_boundary=True)
    (length,) = _LENGTH.unpack(prefix)
    if length > caps.header_bytes:
        raise ProtocolError(f"a header of {length} bytes (the cap is {caps.header_bytes})")
    document, sizes = _document(bytes(_read_exact(fd, length, deadline)), caps)
    payload = _read_exact(fd, sum(sizes), deadline)
    return _finish(document, sizes, memoryview(payload), caps)


def _read_exact(fd: int, n: int, deadline: float | None, at_boundary: bool = False) -> bytearray:
    buffer = bytearray(n)
    view = memoryview(buffer)
    got = 0
    while got < n:
        if deadline is not None:
            _wait(fd, select.POLLIN, deadline)
        try:
            count = _os_readv(fd, [view[got:]])
        except (BlockingIOError, InterruptedError):
            continue
        if count == 0:
            raise ChannelClosed("the pipe was closed", clean=at_boundary and got == 0)
        got += count
    return buffer


def write_frame(fd: int, frame: bytes, deadline: float | None = None) -> None:
    """Write a whole frame to ``fd`` (blocking, or until ``deadline`` on a non-blocking fd)."""
    view = memoryview(frame)
    sent = 0
    while sent < len(view):
        if deadline is not None:
            _wait(fd, select.POLLOUT, deadline)
        try:
            sent += _os_write(fd, view[sent: sent + (1 << 20)])
        except (BlockingIOError, InterruptedError):
            continue
        except BrokenPipeError:
            raise ChannelClosed("the pipe was closed", clean=False) from None


def _wait(fd: int, event: int, deadline: float) -> None:
    poller = select.poll()
    poller.register(fd, event | select.POLLHUP | select.POLLERR)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout("timed out")
        if poller.poll(min(remaining, 1.0) * 1000):
            return


def error_payload(exc: BaseException, what: str) -> dict[str, object]:
    """The value of an error frame for ``exc``, raised while serving ``what``."""
    if isinstance(exc, errors.SubmissionError):
        fields = {k: clip(v, 200) for k, v in vars(exc).items() if k != "message" and isinstance(v, str)}
        return {"type": type(exc).__name__, "message": clip(str(exc.message)), "fields": fields}
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a student's __str__
        text = ""
    name = type(exc).__name__
    message = f"{what} raised {name}: {text}" if text else f"{what} raised {name}"
    fields = {"exception_type": name}
    if isinstance(exc, ImportError) and isinstance(exc.name, str):
        fields["missing_module"] = exc.name
    return {"type": "StudentCodeError", "message": clip(message), "fields": fields}
