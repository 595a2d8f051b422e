"""`in_db_thread`: the one way async code calls the database.

SQLAlchemy sessions block. On the event loop, one slow query (a lock wait on SQLite, a busy
PostgreSQL) would stall every chat and every stream at once. So async code never calls the store,
the outbox or a session directly: it hands the call to `in_db_thread`, which runs it in a small pool
of threads of its own.

The pool is separate from asyncio's default one (where PDF parsing and ranking run), so CPU work
never queues database calls behind it, and it is no larger than the connection pool, so a burst
of chats waits here for a thread instead of holding threads that wait for a connection.

    subscription = await in_db_thread(app.subscriptions.get, chat_id)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["DB_THREADS", "in_db_thread"]

P = ParamSpec("P")
T = TypeVar("T")

DB_THREADS = 5  # SQLAlchemy's default pool_size: one thread per pooled connection

_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="paperboy-db")
    return _executor


async def in_db_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args, **kwargs)` (a database call) in a database thread and return its result.

    Context variables (the log's chat id, for one) travel with the call, as with `asyncio.to_thread`.
    """
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool(), call)
