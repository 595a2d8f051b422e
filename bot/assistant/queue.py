"""A bounded, prioritised queue for LLM work that can tell a waiting user their place.

At most `limit` generations run at once (`llm.max_concurrency`); the rest wait in priority order
(today's papers first: priority 0, older papers 1, background TL;DRs 2), first come first served
within a priority. A waiter passes `on_place(n)`, called with its place in line (1 = next) when
it starts waiting and whenever that place changes, so the chat can show "3rd in line".
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["LLMQueue", "ordinal"]

OnPlace = Callable[[int], Awaitable[None]]


@dataclass(order=True)
class _Ticket:
    priority: int
    seq: int
    future: asyncio.Future[None] = field(compare=False)
    on_place: OnPlace | None = field(compare=False, default=None)
    place: int = field(compare=False, default=0)


class LLMQueue:
    """`async with queue.slot(priority, on_place=...)`: run when a slot is free."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.running = 0
        self._waiting: list[_Ticket] = []
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def slot(self, priority: int = 1, *, on_place: OnPlace | None = None) -> AsyncIterator[None]:
        await self._acquire(priority, on_place)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int, on_place: OnPlace | None) -> None:
        if self.running < self.limit and not self._waiting:
            self.running += 1
            return
        ticket = _Ticket(priority, next(self._seq), asyncio.get_running_loop().create_future(), on_place)
        heapq.heappush(self._waiting, ticket)
        self._announce_later()
        try:
            await ticket.future
        except asyncio.CancelledError:
            if ticket.future.done() and not ticket.future.cancelled():
                self._release()  # we were handed a slot just as we were cancelled: pass it on
            else:
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
                self._announce_later()
            raise

    def _release(self) -> None:
        self.running -= 1
        while self._waiting and self.running < self.limit:
            ticket = heapq.heappop(self._waiting)
            if ticket.future.done():
                continue
            self.running += 1
            ticket.future.set_result(None)
        if self._waiting:
            self._announce_later()

    def _announce_later(self) -> None:
        """Tell waiters their places in a task of its own: a slow chat never holds the queue up."""
        task = asyncio.get_running_loop().create_task(self._announce())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(self) -> None:
        """Tell every waiter whose place changed where it now stands."""
        for place, ticket in enumerate(sorted(self._waiting), start=1):
            if ticket.place != place and ticket.on_place is not None and not ticket.future.done():
                ticket.place = place
                try:
                    await ticket.on_place(place)
                except Exception:  # a chat that cannot be updated must not stall the queue
                    pass


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 3 -> '3rd', 11 -> '11th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
