"""Client-side flood control for the Bot API: stay under Telegram's limits instead of hitting 429s.

Telegram allows about 30 messages a second per bot, 1 a second per chat and 20 a minute per group
(and about 20 edits a minute per group). PTB's `AIORateLimiter` leaves private chats unlimited, so
this is a small limiter of our own, in one process:

- overall: a smooth schedule (one slot every 1/rate seconds, reserved in arrival order), because a
  burst of hundreds of requests at once trips a sliding window;
- per chat, per group and per group for edits, and overall as a hard cap: sliding windows ("at
  most N in any W seconds").

Telegram counts a request when it *arrives*, which is somewhere between the moment we send it and
the moment its answer comes back. When the network or the event loop stalls, requests sent evenly
can arrive bunched. So a request counts in its windows from the moment it is scheduled until W
seconds after its answer: whatever the delays, no window on Telegram's side can then see more than
N. (Proof sketch: take the last request sent among those Telegram saw in some W-window; every
other one was sent before it and answered at most W before it was sent, so it was counted.)

A send first waits until its chat's windows allow it (holding only that chat's lock, so a busy chat
never blocks the others), then takes the next overall slot. Every rate is multiplied by `safety`
(< 1), a margin for limits Telegram does not state exactly.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram.constants import FloodLimit

__all__ = ["Permit", "RateLimiter", "RateLimits"]

_POLL_S = 0.005  # how often to look again while a window is full of requests still in flight


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Telegram's flood limits (defaults are the documented ones); scale them in benchmarks."""

    overall_per_s: float = float(FloodLimit.MESSAGES_PER_SECOND)  # 30
    chat_per_s: float = float(FloodLimit.MESSAGES_PER_SECOND_PER_CHAT)  # 1
    group_per_min: float = float(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP)  # 20
    group_edits_per_min: float = 20.0  # not in telegram.constants; Telegram's 429s show the same 20
    safety: float = 0.95


class _Entry:
    """One request in a window: when it was scheduled (then answered), and whether it was answered."""

    __slots__ = ("at", "done")

    def __init__(self, at: float) -> None:
        self.at = at
        self.done = False


class _Window:
    """At most `count` requests in any `seconds`; a request counts until `seconds` after its answer."""

    __slots__ = ("count", "entries", "seconds")

    def __init__(self, count: float, seconds: float) -> None:
        self.count = max(1, int(count))
        self.seconds = seconds
        self.entries: deque[_Entry] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        horizon = now - self.seconds
        while self.entries and self.entries[0].done and self.entries[0].at <= horizon:
            self.entries.popleft()
        if len(self.entries) < self.count:
            return 0.0
        live = [e for e in self.entries if not e.done or e.at > horizon]
        if len(live) != len(self.entries):
            self.entries = deque(live)
        excess = len(live) - self.count + 1
        if excess <= 0:
            return 0.0
        expiries = sorted(e.at + self.seconds if e.done else math.inf for e in live)
        free_at = expiries[excess - 1]
        return _POLL_S if free_at == math.inf else max(free_at - now, 1e-4)

    def add(self, at: float) -> _Entry:
        entry = _Entry(at)
        self.entries.append(entry)
        return entry


class Permit:
    """Leave to send one request; `release()` it when the answer (or an error) came back."""

    __slots__ = ("_clock", "_entries")

    def __init__(self, entries: list[_Entry], clock: Callable[[], float]) -> None:
        self._entries = entries
        self._clock = clock

    def release(self) -> None:
        now = self._clock()
        for entry in self._entries:
            if not entry.done:
                entry.at = max(entry.at, now)
                entry.done = True


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
        # The hard cap sits halfway between the schedule's pace and the limit itself.
        ceiling = math.ceil(self.limits.overall_per_s * (1 + self.limits.safety) / 2)
        self._overall = _Window(min(ceiling, int(self.limits.overall_per_s)) or 1, 1.0)
        self._locks: dict[int, asyncio.Lock] = {}
        self._windows: dict[tuple[str, int], _Window] = {}

    async def acquire(self, chat: int, *, group: bool, edit: bool = False, wait: bool = True,
                      ready: Callable[[], Awaitable[None]] | None = None) -> Permit | None:
        """Wait for leave to send one request to `chat`; with wait=False, None instead of waiting.

        `ready` (the outbox's send turn) is awaited last, once leave is granted.
        """
        lock = self._locks.setdefault(chat, asyncio.Lock())
        if not wait and lock.locked():
            return None
        async with lock:
            windows = self._windows_for(chat, group=group, edit=edit)
            while True:
                now = self._clock()
                delay = max(w.wait(now) for w in windows)
                if delay <= 0:
                    break
                if not wait:
                    return None
                await self._sleep(delay)
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            entries = [w.add(slot) for w in windows]
        permit = Permit(entries, self._clock)
        try:
            delay = slot - self._clock()
            if delay > 0:
                await self._sleep(delay)
            while (late := self._overall.wait(self._clock())) > 0:
                await self._sleep(late)
            entries.append(self._overall.add(self._clock()))
        except BaseException:
            permit.release()
            raise
        if ready is not None:
            try:
                await ready()
            except BaseException:
                permit.release()
                raise
        return permit

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
