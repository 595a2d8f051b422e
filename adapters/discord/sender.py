"""`DiscordSender`: the bot's `Sender` port on Discord (send, edit, streamed answers).

- Every send carries a `nonce` derived from the outbox's idempotency key (at most 25 characters);
  discord.py sets `enforce_nonce`, so Discord answers a resend after a crash with the message it
  already created instead of a duplicate.
- A streamed answer is a placeholder message edited as the text grows, at most once per
  `stream_interval` seconds (Discord allows about 5 edits per 5 s per channel), then a final edit.
- Discord errors map onto `bot.ports` errors: 50007 (the user's DMs are closed), 50001 / 50013
  (missing access / permissions) and unknown channels -> `ChatUnreachable`; a 429 discord.py could
  not absorb, 5xx and network failures -> `TransientSendError`. Callers never see discord types.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import discord

from adapters.discord.render import DiscordPayload, render, render_preview
from bot.metrics import FLOODS
from bot.ports import ChatUnreachable, SendError, SentRef, TransientSendError
from digest.message import Message

__all__ = ["UNREACHABLE_CODES", "DiscordAnswerStream", "DiscordSender", "channel_id_of", "nonce_for"]

log = logging.getLogger(__name__)

NONCE_LENGTH = 25
# 10003 unknown channel, 50001 missing access, 50007 cannot send messages to this user,
# 50013 missing permissions, 50083 thread archived.
UNREACHABLE_CODES = frozenset({10003, 50001, 50007, 50013, 50083})
# Fleet-wide spacing (95 % of the limit): 50 requests/s per bot, 5 messages per 5 s per channel.
GLOBAL_INTERVAL_S = 1 / (50 * 0.95)
CHANNEL_INTERVAL_S = 1 / 0.95


def nonce_for(idempotency_key: str, part: int = 0) -> str:
    """A Discord nonce (<= 25 characters) that is the same for the same outbox row and part."""
    digest = hashlib.sha256(f"{idempotency_key}\x00{part}".encode()).hexdigest()
    return digest[:NONCE_LENGTH]


def channel_id_of(chat_id: str) -> int:
    """The Discord channel id in a paperboy chat id ("dc:123" -> 123)."""
    platform, _, raw = chat_id.partition(":")
    if platform != "dc" or not raw.isdigit():
        raise SendError(f"{chat_id!r} is not a Discord chat id")
    return int(raw)


@contextlib.contextmanager
def _mapped_errors(chat_id: str) -> Iterator[None]:
    """Discord and network errors as `bot.ports` errors."""
    try:
        yield
    except discord.RateLimited as exc:
        FLOODS.labels("dc").inc()
        raise TransientSendError(f"{chat_id}: rate limited", retry_after=exc.retry_after) from exc
    except discord.HTTPException as exc:
        if exc.code in UNREACHABLE_CODES or exc.status == 403:
            raise ChatUnreachable(f"{chat_id}: {exc.text or exc.status} (code {exc.code})") from exc
        if exc.status == 429:
            FLOODS.labels("dc").inc()
            raise TransientSendError(f"{chat_id}: rate limited", retry_after=_retry_after(exc)) from exc
        if exc.status >= 500:
            raise TransientSendError(f"{chat_id}: Discord error {exc.status}") from exc
        raise SendError(f"{chat_id}: Discord refused the message: {exc.text or exc.status} (code {exc.code})") from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise TransientSendError(f"{chat_id}: network error {type(exc).__name__}") from exc


def _retry_after(exc: discord.HTTPException) -> float | None:
    try:
        return float(exc.response.headers.get("Retry-After", ""))
    except (TypeError, ValueError, AttributeError):
        return None


def _split_ref(ref: SentRef) -> list[int]:
    return [int(part) for part in ref.message_id.split(",") if part]


class DiscordSender:
    """Sends, edits and streams paperboy messages through a discord.py client."""

    def __init__(self, client: discord.Client, *, stream_interval: float = 1.5, fleet: Any = None) -> None:
        self._client = client
        self._stream_interval = stream_interval
        self._fleet = fleet  # bot.flood.SharedBuckets on PostgreSQL: the limits of every sender together

    async def _fleet_slot(self, channel_id: int) -> None:
        """Wait for Discord's global and per-channel limits counted across every sender (PostgreSQL)."""
        if self._fleet is not None:
            await self._fleet.wait_for([("dc:global", GLOBAL_INTERVAL_S),
                                        (f"dc:channel:{channel_id}", CHANNEL_INTERVAL_S)])

    def _channel(self, chat_id: str) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(channel_id_of(chat_id))

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None) -> SentRef:
        """Send `message` (split into parts if Discord's limits need it); the ref lists every part."""
        channel = self._channel(chat_id)
        ids: list[str] = []
        with _mapped_errors(chat_id):
            for part, payload in enumerate(render(message)):
                kwargs = payload.send_kwargs()
                if idempotency_key is not None:
                    kwargs["nonce"] = nonce_for(idempotency_key, part)
                await self._fleet_slot(channel.id)
                sent = await channel.send(**kwargs)
                ids.append(str(sent.id))
        return SentRef(chat_id=chat_id, message_id=",".join(ids))

    async def edit(self, ref: SentRef, message: Message) -> None:
        """Replace a sent message; extra parts are sent after it, parts no longer needed deleted."""
        await self._replace(self._channel(ref.chat_id), ref.chat_id, _split_ref(ref), render(message))

    async def _replace(
        self, channel: discord.PartialMessageable, chat_id: str, ids: list[int], payloads: list[DiscordPayload]
    ) -> SentRef:
        new_ids: list[str] = []
        with _mapped_errors(chat_id):
            for index, payload in enumerate(payloads):
                if index < len(ids):
                    await channel.get_partial_message(ids[index]).edit(**payload.edit_kwargs())
                    new_ids.append(str(ids[index]))
                else:
                    sent = await channel.send(**payload.send_kwargs())
                    new_ids.append(str(sent.id))
            for stale in ids[len(payloads):]:
                with contextlib.suppress(discord.NotFound):
                    await channel.get_partial_message(stale).delete()
        return SentRef(chat_id=chat_id, message_id=",".join(new_ids))

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None) -> DiscordAnswerStream:
        """Post a placeholder (as a reply to `reply_to` when given) that the answer will fill in."""
        channel = self._channel(chat_id)
        kwargs: dict[str, Any] = render_preview("").send_kwargs()
        if reply_to and reply_to.split(",")[0].isdigit():
            kwargs["reference"] = discord.MessageReference(
                message_id=int(reply_to.split(",")[0]), channel_id=channel.id, fail_if_not_exists=False
            )
        with _mapped_errors(chat_id):
            placeholder = await channel.send(**kwargs)
        return DiscordAnswerStream(self, channel, chat_id, placeholder.id, interval=self._stream_interval)


class DiscordAnswerStream:
    """A placeholder message edited with the answer so far, no faster than Discord allows."""

    def __init__(
        self, sender: DiscordSender, channel: discord.PartialMessageable, chat_id: str, message_id: int, *,
        interval: float,
    ) -> None:
        self._sender = sender
        self._channel = channel
        self._chat_id = chat_id
        self._message_id = message_id
        self._interval = interval
        self._latest = ""
        self._shown = ""
        self._last_edit = 0.0
        self._flush: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._answering = False

    async def update(self, text_so_far: str) -> None:
        """Remember the text; edit now if the last edit is old enough, else once the interval has passed.

        The answer's first words go at once even if a status line was just shown: two edits in a
        row stay well within Discord's 5 edits per 5 s.
        """
        if not self._answering:
            self._answering = True
            self._last_edit = min(self._last_edit, time.monotonic() - self._interval)
        await self._offer(text_so_far)

    async def _offer(self, text_so_far: str) -> None:
        if self._closed:
            return
        self._latest = text_so_far
        wait = self._last_edit + self._interval - time.monotonic()
        if wait <= 0 and not self._lock.locked():
            await self._show()
        elif self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._show_later(max(wait, 0.05)))

    async def status(self, line: str) -> None:
        """A status line: shown like text while no answer text is (a channel's 5 edits per 5 s are plenty)."""
        if not self._answering:
            await self._offer(line)

    async def _show_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self._show()
        except SendError:
            log.warning("could not update a streamed answer in %s", self._chat_id, exc_info=True)

    async def _show(self) -> None:
        async with self._lock:
            if self._closed or self._latest == self._shown:
                return
            text = self._latest
            with _mapped_errors(self._chat_id):
                await self._channel.get_partial_message(self._message_id).edit(**render_preview(text).edit_kwargs())
            self._shown = text
            self._last_edit = time.monotonic()

    async def finish(self, message: Message) -> SentRef:
        """Replace the preview with the final message (more parts follow it if it is long)."""
        return await self._close(message)

    async def fail(self, message: Message) -> SentRef:
        """Replace the preview with an error message."""
        return await self._close(message)

    async def _close(self, message: Message) -> SentRef:
        self._closed = True
        if self._flush is not None and not self._flush.done():
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        async with self._lock:
            wait = self._last_edit + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            return await self._sender._replace(self._channel, self._chat_id, [self._message_id], render(message))
