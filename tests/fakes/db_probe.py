"""`database_calls_on_the_loop(engine)`: where async code still checks out a connection on the event loop."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def database_calls_on_the_loop(engine: Engine) -> Iterator[list[str]]:
    """Collect the project's part of the stack for every connection checked out on this (the event loop's) thread."""
    loop_thread = threading.get_ident()
    found: list[str] = []

    def checkout(*_: object) -> None:
        if threading.get_ident() == loop_thread:
            frames = [f for f in traceback.extract_stack()[:-1] if "site-packages" not in f.filename]
            found.append("".join(traceback.format_list(frames[-6:])))

    event.listen(engine, "checkout", checkout)
    try:
        yield found
    finally:
        event.remove(engine, "checkout", checkout)
