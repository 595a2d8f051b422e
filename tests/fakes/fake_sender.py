"""A `Sender` that records what the bot sent, and can be told to fail like a platform would."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from bot.ports import SendError, SentRef
from digest.message import Message


@dataclass
class FakeStream:
    """Records a streamed answer: every update, then the final (or failure) message."""

    sender: "FakeSender"
    chat_id: str
    updates: list[str] = field(default_factory=list)
    final: Message | None = None
    failed: Message | None = None

    async def update(self, text_so_far: str) -> None:
        self.updates.append(text_so_far)

    async def finish(self, message: Message) -> SentRef:
        self.final = message
        return await self.sender.send(self.chat_id, message)

    async def fail(self, message: Message) -> SentRef:
        self.failed = message
        return await self.sender.send(self.chat_id, message)


@dataclass
class FakeSender:
    """Collects (chat_id, message, key) for every send; `fail_next` queues errors to raise."""

    sent: list[tuple[str, Message, str | None]] = field(default_factory=list)
    edits: list[tuple[SentRef, Message]] = field(default_factory=list)
    streams: list[FakeStream] = field(default_factory=list)
    fail_next: deque[SendError] = field(default_factory=deque)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None) -> SentRef:
        if self.fail_next:
            raise self.fail_next.popleft()
        self.sent.append((chat_id, message, idempotency_key))
        return SentRef(chat_id, str(next(self._ids)))

    async def edit(self, ref: SentRef, message: Message) -> None:
        self.edits.append((ref, message))

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None) -> FakeStream:
        stream = FakeStream(self, chat_id)
        self.streams.append(stream)
        return stream

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [m.plain_text() for c, m, _ in self.sent if chat_id is None or c == chat_id]

    def keys(self) -> list[str | None]:
        return [k for _, _, k in self.sent]
