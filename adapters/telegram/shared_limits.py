"""`SharedRateLimiter`: Telegram's flood limits for a whole fleet of senders, kept in PostgreSQL.

The same interface as `RateLimiter` (`acquire` -> a permit to `release` when the answer came), but
the buckets are rows in `flood_buckets` (see `bot.flood`), so four sender processes together stay
under 30 messages a second (or `telegram.broadcast_per_s`), 1 a second per chat and 20 a minute
per group. The per-chat and per-group slots are taken first and waited for, then the overall one:
an overall slot is never held while a chat's own limit makes it wait.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from adapters.telegram.limits import RateLimits
from bot.flood import Bucket, SharedBuckets

__all__ = ["SharedRateLimiter"]


class SharedPermit:
    """Leave to send one request; `release()` starts the chat's next interval from the answer."""

    def __init__(self, buckets: SharedBuckets, chat_buckets: list[Bucket]) -> None:
        self._buckets = buckets
        self._chat_buckets = chat_buckets
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            self._buckets.settle(self._chat_buckets)
        except Exception:  # the slot taken at acquire still spaced this request; never fail a send here
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

    def _chat_buckets(self, chat: int, *, group: bool, edit: bool) -> list[Bucket]:
        buckets: list[Bucket] = [(f"tg:chat:{chat}", self._chat_iv)]
        if group:
            buckets.append((f"tg:group_edit:{chat}", self._group_edit_iv) if edit else (f"tg:group:{chat}", self._group_iv))
        return buckets

    async def acquire(self, chat: int, *, group: bool, edit: bool = False, wait: bool = True) -> SharedPermit | None:
        """Wait for leave to send one request to `chat`; with wait=False, None instead of waiting."""
        chat_buckets = self._chat_buckets(chat, group=group, edit=edit)
        if not wait:
            if not await asyncio.to_thread(self.buckets.take_now, chat_buckets):
                return None
        else:
            await self.buckets.wait_for(chat_buckets)
        await self.buckets.wait_for([self._overall])
        return SharedPermit(self.buckets, chat_buckets)
