"""FakeStream / FakeStreamFactory: an `AnswerStream` that records what a chat would have seen.

Every `update` (answer text) and `status` (status line) is kept, in order, with a monotonic
timestamp (the benchmark measures time to first visible text with it) and whether it was a status
line; `finish`/`fail` keep the final `Message`. A stream can be told to be slow, to check
that a slow chat does not hold a generation up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bot.ports import SentRef
from digest.message import Message

__all__ = ["FakeStream", "FakeStreamFactory"]


@dataclass
class FakeStream:
    """One streamed answer as a chat would see it."""

    chat_id: str = "test:1"
    update_delay_s: float = 0.0
    updates: list[str] = field(default_factory=list)
    update_times: list[float] = field(default_factory=list)
    statuses: list[bool] = field(default_factory=list)  # per entry of `updates`: was it a status line
    final: Message | None = None
    failed: Message | None = None
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None

    async def update(self, text_so_far: str) -> None:
        await self._record(text_so_far, status=False)

    async def status(self, line: str) -> None:
        await self._record(line, status=True)

    async def _record(self, text: str, *, status: bool) -> None:
        if self.closed_at is not None:
            raise AssertionError("update() after finish()/fail()")
        if self.update_delay_s:
            await asyncio.sleep(self.update_delay_s)
        self.updates.append(text)
        self.update_times.append(time.monotonic())
        self.statuses.append(status)

    @property
    def texts(self) -> list[str]:
        """The answer-text previews only."""
        return [u for u, is_status in zip(self.updates, self.statuses) if not is_status]

    async def finish(self, message: Message) -> SentRef:
        self._close()
        self.final = message
        return SentRef(self.chat_id, f"m{id(self)}")

    async def fail(self, message: Message) -> SentRef:
        self._close()
        self.failed = message
        return SentRef(self.chat_id, f"m{id(self)}")

    def _close(self) -> None:
        if self.closed_at is not None:
            raise AssertionError("a stream was finished twice")
        self.closed_at = time.monotonic()

    @property
    def result(self) -> Message | None:
        return self.final or self.failed

    def actions(self) -> list[str]:
        """The button payloads of the final (or failure) message."""
        message = self.result
        return [b.action for row in (message.buttons if message else ()) for b in row if b.action]


class FakeStreamFactory:
    """`await factory()` opens a new FakeStream and keeps it in `streams`."""

    def __init__(self, chat_id: str = "test:1", *, update_delay_s: float = 0.0) -> None:
        self.chat_id = chat_id
        self.update_delay_s = update_delay_s
        self.streams: list[FakeStream] = []

    async def __call__(self) -> FakeStream:
        stream = FakeStream(self.chat_id, self.update_delay_s)
        self.streams.append(stream)
        return stream

    @property
    def last(self) -> FakeStream:
        return self.streams[-1]
