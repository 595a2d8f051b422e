"""The database helper runs calls off the event loop, in its own threads, with the caller's context."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from bot.db_thread import DB_THREADS, in_db_thread

request_chat: contextvars.ContextVar[str] = contextvars.ContextVar("request_chat", default="none")


async def test_a_call_runs_in_a_database_thread_and_returns_its_result():
    loop_thread = threading.current_thread().name
    name = await in_db_thread(lambda: threading.current_thread().name)
    assert name != loop_thread and name.startswith("paperboy-db")
    assert await in_db_thread(divmod, 7, 2) == (3, 1)


async def test_the_callers_context_travels_with_the_call():
    request_chat.set("tg:42")
    assert await in_db_thread(request_chat.get) == "tg:42"


async def test_an_exception_reaches_the_caller():
    def broken() -> None:
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        await in_db_thread(broken)


async def test_the_event_loop_keeps_running_while_calls_block():
    release = threading.Event()
    calls = [asyncio.ensure_future(in_db_thread(release.wait, 5)) for _ in range(DB_THREADS)]
    ticks = 0
    while ticks < 5:  # the loop is free: every call is blocked in a thread, none on the loop
        await asyncio.sleep(0.01)
        ticks += 1
    release.set()
    assert await asyncio.gather(*calls) == [True] * DB_THREADS
