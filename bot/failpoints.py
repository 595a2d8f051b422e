"""Failpoints: let the crash test kill a process at one exact point of its work.

`PAPERBOY_FAILPOINT=<name>` in the environment makes `failpoint(name)` kill its own process with
SIGKILL (no cleanup, no finally blocks: a power cut). Nothing sets it outside tests; unset, a
failpoint is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "PAPERBOY_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
