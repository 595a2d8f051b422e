"""`SharedRateLimiter`: Telegram's flood limits for a whole fleet of senders, kept in PostgreSQL.

The same interface as `RateLimiter` (`acquire` -> a permit to `release` when the answer came), but
the buckets are rows in `flood_buckets` (see `bot.flood`), so four sender processes together stay
under 30 messages a second (or `telegram.broadcast_per_s`), 1 a second per chat and 20 a minute
per group. A chat's buckets are taken only when free, together with the next overall slot, in one
transaction (one round trip, `SharedBuckets.take_with`): an overall slot is never held while a
chat's own limit makes it wait, and the chat's next request is spaced from this one's real slot.

The outbox lets a Telegram sender have one send at a time whose outcome is not yet recorded (its
send turn). That turn is the sender's critical path, so the database work is kept off it: the next
request takes its slot while the current one is being sent and recorded, then waits for the turn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine

from adapters.telegram.limits import RateLimits
from bot.db_thread import in_db_thread
from bot.flood import Bucket, SharedBuckets, Taken

__all__ = ["SharedRateLimiter"]

# A slot used later than this is given up. Late sends bunch up against the overall limit: with slots
# 1/285 s apart (300/s at safety 0.95), no second can then see more than 285 * 1.03 + 1 < 300.
LATE_S = 0.03


class SharedPermit:
    """Leave to send one request. The chat's buckets were anchored at the request's slot when it was
    granted, so there is nothing to give back (`release` exists for `RateLimiter`'s interface)."""

    def release(self) -> None:
        pass


class SharedRateLimiter:
    """Waits until a message to a chat may go out without breaking a limit, counted across processes."""

    def __init__(self, engine: Engine, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self.buckets = SharedBuckets(engine)
        lim = self.limits
        self._overall: Bucket = ("tg:overall", 1.0 / (lim.overall_per_s * lim.safety))
        self._chat_iv = 1.0 / (lim.chat_per_s * lim.safety)
        self._group_iv = 60.0 / (lim.group_per_min * lim.safety)
        self._group_edit_iv = 60.0 / (lim.group_edits_per_min * lim.safety)
        self._longest_iv = max(self._chat_iv, self._group_iv, self._group_edit_iv)
        self._granted: dict[int, float] = {}  # chat -> when this process last sent to it (monotonic)
        self._ahead = asyncio.Lock()  # one request with a send turn reserves its slot ahead of the turn

    def _chat_buckets(self, chat: int, *, group: bool, edit: bool) -> list[Bucket]:
        buckets: list[Bucket] = [(f"tg:chat:{chat}", self._chat_iv)]
        if group:
            buckets.append((f"tg:group_edit:{chat}", self._group_edit_iv) if edit
                           else (f"tg:group:{chat}", self._group_iv))
        return buckets

    async def acquire(self, chat: int, *, group: bool, edit: bool = False, wait: bool = True,
                      ready: Callable[[], Awaitable[None]] | None = None) -> SharedPermit | None:
        """Wait for leave to send one request to `chat`; with wait=False, None instead of waiting for the chat.

        With `ready` (the outbox's send turn), one request of this process takes its chat and its
        overall slot while the request before it is still being sent, then waits for the turn: the
        database round trip and the wait for the slot are then off the turn, and the slot is
        reserved at most one send ahead. A slot the turn came too late for is given up and the
        request takes a fresh one (its own chat anchors do not hold it back).
        """
        chat_buckets = self._chat_buckets(chat, group=group, edit=edit)
        if ready is None:
            taken = await self._take(chat_buckets, wait=wait)
            if taken is None:
                return None
            return await self._at_slot(chat, taken.wait)
        recent = self._granted.get(chat)
        if recent is not None and time.monotonic() - recent < self._longest_iv:
            # This process sent to the chat lately: wait for it here, not while holding `_ahead`.
            busy = await in_db_thread(self.buckets.busy_for, chat_buckets)
            if busy > 0:
                if not wait:
                    return None
                await asyncio.sleep(busy)
        while True:
            async with self._ahead:
                taken = await self._take(chat_buckets, wait=False)
                if taken is not None:
                    slot = time.monotonic() + taken.wait
                    await ready()
                    break
            if not wait:  # the chat is busy (another process sent to it): wait without holding `_ahead`
                return None
            await asyncio.sleep(max(await in_db_thread(self.buckets.busy_for, chat_buckets), 0.005))
        # The turn is ours now (so no `_ahead` again: the request holding it waits for this turn).
        while time.monotonic() - slot > LATE_S:  # the turn came too late for this slot: a fresh one
            taken = await self._take(chat_buckets, wait=True, mine=taken.anchors)
            assert taken is not None
            slot = time.monotonic() + taken.wait
        return await self._at_slot(chat, slot - time.monotonic())

    async def _take(self, chat_buckets: list[Bucket], *, wait: bool, mine: tuple[float, ...] = ()) -> Taken | None:
        """The chat's buckets and the next overall slot; with `wait`, waits while the chat is busy."""
        while True:
            taken = await in_db_thread(self.buckets.take_with, chat_buckets, self._overall, mine)
            if taken is not None or not wait:
                return taken
            await asyncio.sleep(max(await in_db_thread(self.buckets.busy_for, chat_buckets), 0.005))

    async def _at_slot(self, chat: int, wait: float) -> SharedPermit:
        self._granted[chat] = time.monotonic() + max(wait, 0.0)
        if len(self._granted) > 10_000:
            self._granted.pop(next(iter(self._granted)))
        if wait > 0:
            await asyncio.sleep(wait)
        return SharedPermit()
