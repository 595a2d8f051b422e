"""`SharedRateLimiter`: Telegram's flood limits for a whole fleet of senders, kept in PostgreSQL.

The same interface as `RateLimiter` (`acquire` -> a permit to `release` when the answer came), but
the buckets are rows in `flood_buckets` (see `bot.flood`), so four sender processes together stay
under 30 messages a second (or `telegram.broadcast_per_s`), 1 a second per chat and 20 a minute
per group. A chat's buckets are taken only when free, together with the next overall slot, in one
transaction: an overall slot is never held while a chat's own limit makes it wait, and the chat's
next request is spaced from this one's real slot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine

from adapters.telegram.limits import RateLimits
from bot.flood import Bucket, SharedBuckets

__all__ = ["SharedRateLimiter"]


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

    def _chat_buckets(self, chat: int, *, group: bool, edit: bool) -> list[Bucket]:
        buckets: list[Bucket] = [(f"tg:chat:{chat}", self._chat_iv)]
        if group:
            buckets.append((f"tg:group_edit:{chat}", self._group_edit_iv) if edit
                           else (f"tg:group:{chat}", self._group_iv))
        return buckets

    async def acquire(self, chat: int, *, group: bool, edit: bool = False, wait: bool = True,
                      ready: Callable[[], Awaitable[None]] | None = None) -> SharedPermit | None:
        """Wait for leave to send one request to `chat`; with wait=False, None instead of waiting for the chat.

        `ready` (the outbox's send turn) is awaited once the chat is free and before the overall
        slot is taken, so a slot is never reserved by a request that then queues for its turn.
        """
        chat_buckets = self._chat_buckets(chat, group=group, edit=edit)
        while True:
            if ready is not None:
                # Ask the database whether the chat is busy only if this process sent to it lately
                # (otherwise it almost never is; `take_with` below checks it atomically anyway).
                recent = self._granted.get(chat)
                busy = (await asyncio.to_thread(self.buckets.busy_for, chat_buckets)
                        if recent is not None and time.monotonic() - recent < self._longest_iv else 0.0)
                if busy > 0:
                    if not wait:
                        return None
                    await asyncio.sleep(busy)
                    continue
                await ready()
            overall_wait = await asyncio.to_thread(self.buckets.take_with, chat_buckets, self._overall)
            if overall_wait is not None:
                break
            if not wait:
                return None
            await asyncio.sleep(max(await asyncio.to_thread(self.buckets.busy_for, chat_buckets), 0.005))
        self._granted[chat] = time.monotonic() + max(overall_wait, 0.0)
        if len(self._granted) > 10_000:
            self._granted.pop(next(iter(self._granted)))
        if overall_wait > 0:
            await asyncio.sleep(overall_wait)
        return SharedPermit()
