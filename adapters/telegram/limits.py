"""Client-side flood control for the Bot API: stay under Telegram's limits instead of hitting 429s.

Telegram allows about 30 messages a second per bot, 1 a second per chat and 20 a minute per group
(and about 20 edits a minute per group). PTB's `AIORateLimiter` leaves private chats unlimited, so
this is a small limiter of our own, in one process:

- overall: a smooth schedule (one slot every 1/rate seconds, reserved in arrival order), because a
  burst of hundreds of requests at once arrives spread out and trips a sliding window;
- per chat, per group and per group for edits: sliding windows ("at most N in any W seconds").

A send first waits until its chat's windows allow it (holding only that chat's lock, so a busy chat
never blocks the others), then takes the next overall slot and records it in its windows. Every
rate is multiplied by `safety` (< 1) so that network jitter between our clock and Telegram's never
makes two requests look closer than they were scheduled.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Telegram's flood limits (defaults are the documented ones); scale them in benchmarks."""

    overall_per_s: float = 30.0
    chat_per_s: float = 1.0
    group_per_min: float = 20.0
    group_edits_per_min: float = 20.0
    safety: float = 0.95


class _Window:
    """Reservations of one key: at most `count` in any `seconds` (times may lie in the future)."""

    __slots__ = ("count", "seconds", "times")

    def __init__(self, count: float, seconds: float) -> None:
        self.count = max(1, int(count))
        self.seconds = seconds
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.count:
            return 0.0
        return self.times[-self.count] + self.seconds - now

    def add(self, at: float) -> None:
        self.times.append(at)


def _per_second(rate: float, safety: float) -> tuple[float, float]:
    """(count, seconds) for a rate: 1/s -> 1 in 1/safety s; 10/s -> 10 in 1/safety s."""
    if rate >= 1:
        return rate, 1.0 / safety
    return 1, 1.0 / (rate * safety)


class RateLimiter:
    """Waits until a message (or edit) to a chat may go out without breaking a flood limit."""

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._sleep = sleep
        self._interval = 1.0 / (self.limits.overall_per_s * self.limits.safety)
        self._next_slot = 0.0
        self._locks: dict[int, asyncio.Lock] = {}
        self._windows: dict[tuple[str, int], _Window] = {}

    async def acquire(self, chat: int, *, group: bool, edit: bool = False, wait: bool = True) -> bool:
        """Wait for a slot for one request to `chat`; with wait=False, give up (False) instead of waiting."""
        lock = self._locks.setdefault(chat, asyncio.Lock())
        if not wait and lock.locked():
            return False
        async with lock:
            windows = self._windows_for(chat, group=group, edit=edit)
            while True:
                now = self._clock()
                delay = max(w.wait(now) for w in windows)
                if delay <= 0:
                    break
                if not wait:
                    return False
                await self._sleep(delay)
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            for w in windows:
                w.add(slot)
        delay = slot - self._clock()
        if delay > 0:
            await self._sleep(delay)
        return True

    def _windows_for(self, chat: int, *, group: bool, edit: bool) -> list[_Window]:
        lim = self.limits
        keys: list[tuple[str, float, float]] = [("chat", *_per_second(lim.chat_per_s, lim.safety))]
        if group:
            if edit:
                keys.append(("group_edit", lim.group_edits_per_min, 60.0 / lim.safety))
            else:
                keys.append(("group", lim.group_per_min, 60.0 / lim.safety))
        windows = []
        for kind, count, seconds in keys:
            window = self._windows.get((kind, chat))
            if window is None:
                window = self._windows[(kind, chat)] = _Window(count, seconds)
            windows.append(window)
        return windows

    @property
    def allowed_overall_per_s(self) -> float:
        """The overall rate Telegram allows (what a benchmark compares its throughput to)."""
        return self.limits.overall_per_s
