"""The seams between the chat-agnostic bot and each platform adapter.

An adapter gives the bot a `ChatContext` for every incoming event and implements `Sender` so the
bot (and the outbox) can send, edit and stream neutral `Message`s. Nothing here names a platform.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Protocol

from digest.message import Message


class ChatKind(str, enum.Enum):
    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class ChatContext:
    """Who is talking to the bot, and where.

    `chat_id` is namespaced by platform ("tg:123", "dc:456", "console:local") so one database
    serves every adapter. `can_manage` is the adapter's verdict on whether this user may change the
    chat's subscription (always true in private chats; admins only in groups and channels).
    """

    chat_id: str
    kind: ChatKind = ChatKind.PRIVATE
    user_id: str | None = None
    can_manage: bool = True
    user_name: str | None = None

    @property
    def platform(self) -> str:
        return self.chat_id.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class SentRef:
    """Where a sent message landed, so it can be edited later. `message_id` is the platform's."""

    chat_id: str
    message_id: str


class SendError(Exception):
    """Base of the errors a Sender raises; adapters map platform errors onto these."""


class TransientSendError(SendError):
    """Try again later (network trouble, 5xx, a 429 the adapter could not absorb)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChatUnreachable(SendError):
    """The chat cannot receive messages any more (blocked, kicked, DMs closed, no permission)."""


class ChatMoved(SendError):
    """The chat has a new id (a Telegram group became a supergroup); carries the new chat_id."""

    def __init__(self, message: str, new_chat_id: str) -> None:
        super().__init__(message)
        self.new_chat_id = new_chat_id


class PlatformUnavailable(Exception):
    """A chat platform could not be reached when starting (network, DNS, 5xx): worth retrying."""


class AnswerStream(Protocol):
    """A message that is being written: the LLM's text so far, shown as it grows."""

    async def update(self, text_so_far: str) -> None:
        """Show the text so far; the adapter throttles to its platform's limits and may skip calls."""

    async def status(self, line: str) -> None:
        """Show a status line ("Reading the paper…", "3rd in line") while no answer text is shown.

        It is not answer text: an adapter short of edits (a Telegram group) may drop it, so that
        its budget goes to the answer's first words. Streams without it get `update` instead
        (see `bot.assistant.service.show_status`).
        """

    async def finish(self, message: Message) -> SentRef:
        """Replace the preview with the final message and return where it landed."""

    async def fail(self, message: Message) -> SentRef:
        """Replace the preview with an error message (e.g. with a Retry button)."""


class Sender(Protocol):
    """What an adapter offers the bot for outgoing messages."""

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None) -> SentRef:
        """Send a message. Raises SendError subclasses; `idempotency_key` lets platforms dedupe."""

    async def edit(self, ref: SentRef, message: Message) -> None:
        """Replace a sent message's content and buttons."""

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None) -> AnswerStream:
        """Start a streamed answer in a chat (a draft in Telegram private chats, an edited placeholder elsewhere)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The message a user replied to, as far as the adapter can see it.

    `actions` are the button payloads that message carried (a paper card's "faq:<id>", an FAQ
    answer's "ask:<id>"), which is how the bot knows which paper a reply is about.
    """

    message_id: str
    actions: tuple[str, ...] = ()
    text: str = ""


class SendTurn:
    """The outbox's "one unrecorded send at a time" token, for platforms that cannot drop a resend.

    Telegram has no idempotency key, so a message whose send succeeded but was not yet recorded as
    sent is repeated after a crash. The outbox hands a turn to such a sender; the sender `take`s it
    just before its HTTP call (after any flood-limit wait, so waiting never blocks other chats) and
    the outbox gives it back once the row is marked sent. So a crash repeats at most one message.
    """

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self.held = False

    async def take(self) -> None:
        if not self.held:
            await self._lock.acquire()
            self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._lock.release()
