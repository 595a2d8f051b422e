"""`TelegramSender`: the bot's `Sender` port on Telegram, with flood control and error mapping.

Every outgoing request (sends, edits, streamed previews) waits for the `RateLimiter` first. Bot API
errors become the port's errors, so the outbox and the core never see a PTB exception:

- 429 `RetryAfter`: wait exactly `retry_after`, resend; after `max_attempts` raise
  `TransientSendError(retry_after)` so the outbox retries later;
- 403 (blocked, kicked, deactivated, can't initiate) and "chat not found": `ChatUnreachable`;
- 400 with `migrate_to_chat_id`: `ChatMoved("tg:<new id>")`;
- 400 "can't parse entities": resend the same content as plain text;
- 400 "message is not modified" on an edit: nothing to do;
- timeouts and network errors: `TransientSendError`.

A message longer than one Telegram message goes out in parts (buttons on the last). With an
`idempotency_key`, parts already delivered are remembered, so a retry after a failure half-way
sends only the missing parts: nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import warnings
from collections import OrderedDict
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import Bot, LinkPreviewOptions, ReplyParameters
from telegram import Message as TgMessage
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from adapters.telegram.limits import RateLimiter
from adapters.telegram.render import TelegramPayload, render, render_plain
from bot.metrics import FLOODS
from bot.ports import AnswerStream, ChatMoved, ChatUnreachable, SendError, SendTurn, SentRef, TransientSendError
from digest.message import Markdown, Message

if TYPE_CHECKING:  # imported by make_limiter only on PostgreSQL
    from adapters.telegram.shared_limits import SharedRateLimiter

__all__ = ["TelegramSender", "chat_ref", "tg_chat_id"]

log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_UNREACHABLE_400 = ("chat not found", "user not found", "have no rights to send", "not enough rights",
                    "need administrator rights", "chat_write_forbidden", "peer_id_invalid")
_REMEMBERED_KEYS = 10_000


def tg_chat_id(chat_id: str) -> int:
    """The Telegram chat id inside a paperboy chat id ("tg:-100123" -> -100123)."""
    platform, _, raw = chat_id.partition(":")
    if platform != "tg" or not raw.lstrip("-").isdigit():
        raise ValueError(f"{chat_id!r} is not a Telegram chat id (expected tg:<number>)")
    return int(raw)


def chat_ref(tg_id: int) -> str:
    """The paperboy chat id of a Telegram chat."""
    return f"tg:{tg_id}"


def retry_after_seconds(exc: RetryAfter) -> float:
    """`RetryAfter.retry_after` in seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _plain(payload: TelegramPayload) -> TelegramPayload:
    """The same part without markup (what a parse-error resend sends)."""
    text = html.unescape(re.sub(r"<[^>]*>", "", payload.text)) if payload.parse_mode else payload.text
    return TelegramPayload(text.strip() or "…", None, payload.reply_markup)


class TelegramSender:
    """Sends, edits and streams neutral messages through a PTB `Bot`, within Telegram's limits."""

    takes_turns = True  # no idempotency key on Telegram: the outbox gives one unrecorded send at a time

    def __init__(self, bot: Bot, *, limiter: RateLimiter | SharedRateLimiter | None = None, max_attempts: int = 3,
                 stream_interval_s: float = 1.0, group_stream_interval_s: float = 3.0) -> None:
        self.bot = bot
        self.limiter: RateLimiter | SharedRateLimiter = limiter or RateLimiter()
        self.max_attempts = max_attempts
        self.stream_interval_s = stream_interval_s
        self.group_stream_interval_s = group_stream_interval_s
        self.floods = 0  # 429s met (each was waited out); the benchmark reports it
        self._progress: OrderedDict[str, list[int]] = OrderedDict()
        self.group_streams: dict[int, set[EditStream]] = {}  # answers being written in each group

    # --- the Sender port -------------------------------------------------------------------

    async def send(self, chat_id: str, message: Message, *, idempotency_key: str | None = None,
                   reply_to: str | None = None, turn: SendTurn | None = None) -> SentRef:
        """Send a message (in parts if long); returns the part that carries the buttons.

        With a `turn` (from the outbox), each request waits for it after its flood-limit wait.
        """
        tg_id = tg_chat_id(chat_id)
        payloads = render(message)
        done = self._remember(idempotency_key) if idempotency_key else []
        for i, payload in enumerate(payloads):
            if i < len(done):
                continue  # delivered before a failure; a retry must not repeat it
            reply = int(reply_to) if reply_to and i == 0 else None
            try:
                sent = await self._send_payload(tg_id, payload, reply, turn)
            except BadRequest as exc:
                if not _is_parse_error(exc):
                    raise _permanent(exc) from exc
                log.warning("Telegram could not parse our HTML for %s (%s); resending as plain text", chat_id, exc)
                fallback = render_plain(message) if len(payloads) == 1 else [_plain(payload)]
                for part in fallback:
                    sent = await self._send_payload(tg_id, part, reply, turn)
                    reply = None
            done.append(sent.message_id)
        if idempotency_key:
            self._progress.pop(idempotency_key, None)
        return SentRef(chat_id, str(done[-1]))

    def _remember(self, key: str) -> list[int]:
        done = self._progress.setdefault(key, [])
        self._progress.move_to_end(key)
        while len(self._progress) > _REMEMBERED_KEYS:
            self._progress.popitem(last=False)
        return done

    async def edit(self, ref: SentRef, message: Message) -> None:
        """Replace a sent message; content too long for one message continues in new messages."""
        await self._edit_parts(ref, render(message), message)

    async def open_stream(self, chat_id: str, *, reply_to: str | None = None) -> AnswerStream:
        """A streamed answer: drafts in private chats, a throttled edited placeholder elsewhere."""
        tg_id = tg_chat_id(chat_id)
        if tg_id > 0:
            return DraftStream(self, chat_id, reply_to)
        stream = EditStream(self, chat_id, reply_to)
        self.group_streams.setdefault(tg_id, set()).add(stream)
        return stream

    # --- requests ----------------------------------------------------------------------------

    async def _send_payload(self, tg_id: int, payload: TelegramPayload, reply_to: int | None,
                            turn: SendTurn | None = None) -> TgMessage:
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        return await self.request(tg_id, lambda: self.bot.send_message(
            tg_id, payload.text, parse_mode=payload.parse_mode, reply_markup=payload.reply_markup,
            link_preview_options=_NO_PREVIEW, reply_parameters=reply,
        ), turn=turn)

    async def _edit_parts(self, ref: SentRef, payloads: list[TelegramPayload], message: Message) -> SentRef:
        tg_id, message_id = tg_chat_id(ref.chat_id), int(ref.message_id)
        first = payloads[0]
        try:
            await self._edit_payload(tg_id, message_id, first)
        except BadRequest as exc:
            if _is_not_modified(exc):
                pass
            elif _is_parse_error(exc):
                log.warning("Telegram could not parse our HTML for an edit in %s (%s); using plain text",
                            ref.chat_id, exc)
                plain = render_plain(message)
                await self._edit_payload(tg_id, message_id, plain[0])
                payloads = plain
            else:
                raise _permanent(exc) from exc
        last = ref
        for payload in payloads[1:]:
            sent = await self._send_payload(tg_id, payload, None)
            last = SentRef(ref.chat_id, str(sent.message_id))
        return last

    async def _edit_payload(self, tg_id: int, message_id: int, payload: TelegramPayload) -> None:
        await self.request(tg_id, lambda: self.bot.edit_message_text(
            payload.text, chat_id=tg_id, message_id=message_id, parse_mode=payload.parse_mode,
            reply_markup=payload.reply_markup, link_preview_options=_NO_PREVIEW,
        ), edit=True)

    async def request(self, tg_id: int, call, *, edit: bool = False, wait: bool = True,
                      turn: SendTurn | None = None):
        """Run one Bot API call within the flood limits, absorbing 429s and mapping errors.

        BadRequest is left to the caller (it knows whether "not modified" or a parse error is fine).
        """
        for attempt in range(1, self.max_attempts + 1):
            # The turn is asked for once per message: a later part (or a resend) already holds it.
            ready = turn.take if turn is not None and not turn.held else None
            permit = await self.limiter.acquire(tg_id, group=tg_id < 0, edit=edit, wait=wait, ready=ready)
            if permit is None:
                return None
            try:
                return await call()
            except RetryAfter as exc:
                permit.release()
                seconds = retry_after_seconds(exc)
                self.floods += 1
                FLOODS.labels("tg").inc()
                if attempt == self.max_attempts:
                    raise TransientSendError(f"Telegram flood control for chat {tg_id}", retry_after=seconds) from exc
                log.info("429 for chat %s: waiting %.1fs as Telegram asks, then resending", tg_id, seconds)
                await asyncio.sleep(seconds)
            except ChatMigrated as exc:
                raise ChatMoved(f"chat {tg_id} became a supergroup", chat_ref(exc.new_chat_id)) from exc
            except Forbidden as exc:
                raise ChatUnreachable(f"chat {tg_id}: {exc.message}") from exc
            except BadRequest as exc:
                if any(s in exc.message.lower() for s in _UNREACHABLE_400):
                    raise ChatUnreachable(f"chat {tg_id}: {exc.message}") from exc
                raise
            except NetworkError as exc:  # includes TimedOut
                raise TransientSendError(f"chat {tg_id}: {exc.message}") from exc
            except TelegramError as exc:
                raise SendError(f"chat {tg_id}: {exc.message}") from exc
            finally:
                permit.release()
        raise AssertionError("unreachable")


def _is_parse_error(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower() or "can't find end tag" in exc.message.lower()


def _is_not_modified(exc: BadRequest) -> bool:
    return "message is not modified" in exc.message.lower()


def _permanent(exc: BadRequest) -> SendError:
    return SendError(f"Telegram refused the message: {exc.message}")


# --- streamed answers ----------------------------------------------------------------------------


def _preview(text_so_far: str) -> TelegramPayload:
    """The answer so far as one payload: rendered Markdown when it fits, else its plain tail."""
    parts = render(Message(blocks=(Markdown(text_so_far),)))
    if len(parts) == 1:
        return parts[0]
    return TelegramPayload("…" + text_so_far[-4000:], None)


class DraftStream:
    """Private chats: `sendMessageDraft` previews (throttled), then one real message at the end."""

    def __init__(self, sender: TelegramSender, chat_id: str, reply_to: str | None) -> None:
        self.sender, self.chat_id, self.reply_to = sender, chat_id, reply_to
        self.tg_id = tg_chat_id(chat_id)
        self.draft_id = (id(self) & 0x7FFFFFFF) or 1
        self._last = float("-inf")
        self._text_shown = False

    async def update(self, text_so_far: str) -> None:
        """Answer text: the first draft of it goes at once, later ones every `stream_interval_s`."""
        now = asyncio.get_running_loop().time()
        if not text_so_far.strip() or (self._text_shown and now - self._last < self.sender.stream_interval_s):
            return
        if await self._draft(text_so_far):
            self._last, self._text_shown = now, True

    async def status(self, line: str) -> None:
        """A status line, shown only while no answer text is (drafts are not counted as messages)."""
        now = asyncio.get_running_loop().time()
        if self._text_shown or now - self._last < self.sender.stream_interval_s:
            return
        if await self._draft(line):
            self._last = now

    async def _draft(self, text: str) -> bool:
        payload = _preview(text)
        try:
            await self.sender.bot.send_message_draft(self.tg_id, self.draft_id, payload.text,
                                                     parse_mode=payload.parse_mode)
            return True
        except TelegramError as exc:  # a preview is worth nothing if it fails; the final message still goes
            log.debug("draft preview failed in %s: %s", self.chat_id, exc)
            return False

    async def finish(self, message: Message) -> SentRef:
        return await self.sender.send(self.chat_id, message, reply_to=self.reply_to)

    async def fail(self, message: Message) -> SentRef:
        return await self.sender.send(self.chat_id, message, reply_to=self.reply_to)


class EditStream:
    """Groups and channels: a placeholder message edited at most every few seconds, then the answer.

    A group allows about 20 edits a minute, shared by every answer being written in it, so the
    edits go to answer text first, and to an answer's first words before anything else:
    - a status line ("3rd in line") opens the placeholder, and changes it later only when the
      stream has been quiet for a while; it never replaces answer text;
    - the first answer text edits the placeholder at once, and while an answer in the group waits
      to show its first words, the answers already showing text hold their edits back;
    - answers showing text share the group's budget (each edits every `group_stream_interval_s`,
      or less often when several are being written);
    - an edit the rate limiter skips is tried again with the next piece of text.
    """

    _STATUS_INTERVALS = 3  # a status edit waits this many group intervals after the last edit

    def __init__(self, sender: TelegramSender, chat_id: str, reply_to: str | None) -> None:
        self.sender, self.chat_id, self.reply_to = sender, chat_id, reply_to
        self.tg_id = tg_chat_id(chat_id)
        self.ref: SentRef | None = None
        self._last = float("-inf")
        self._shown = ""
        self._text_shown = False
        self.first_words_since: float | None = None  # when it got answer text it could not show yet

    def _peers(self) -> set[EditStream]:
        return self.sender.group_streams.get(self.tg_id, set())

    def _text_interval(self) -> float:
        """Seconds between this answer's edits: its share of the group's edit budget."""
        showing = sum(1 for peer in self._peers() if peer._text_shown) or 1
        limits = getattr(self.sender.limiter, "limits", None)
        per_min = getattr(limits, "group_edits_per_min", 20.0) * getattr(limits, "safety", 0.95)
        return max(self.sender.group_stream_interval_s, showing * 60.0 / max(per_min, 1e-9))

    async def update(self, text_so_far: str) -> None:
        """Answer text: the first edit goes at once, later ones at this answer's share of the group's budget."""
        now = asyncio.get_running_loop().time()
        if not text_so_far.strip():
            return
        if self._text_shown:
            if now - self._last < self._text_interval():
                return
            if any(peer._waits_for_first_words(now) for peer in self._peers() if peer is not self):
                return  # another answer's first words go first
        elif self.first_words_since is None:
            self.first_words_since = now
        if await self._show(text_so_far + " …", now):
            self._text_shown, self.first_words_since = True, None

    def _waits_for_first_words(self, now: float) -> bool:
        """Whether this answer has text to show for the first time (a stream abandoned for 30 s no longer counts)."""
        return self.first_words_since is not None and now - self.first_words_since < 30.0

    async def status(self, line: str) -> None:
        """A status line: it opens the placeholder, and edits it only when the stream has been quiet."""
        now = asyncio.get_running_loop().time()
        if self._text_shown or (
            self.ref is not None and now - self._last < self._STATUS_INTERVALS * self.sender.group_stream_interval_s
        ):
            return
        await self._show(line, now)

    async def _show(self, text: str, now: float) -> bool:
        """Send the placeholder or edit it; False when the edit was skipped (the group's edit budget)."""
        payload = _preview(text)
        if self.ref is None:
            sent = await self.sender._send_payload(self.tg_id, payload, int(self.reply_to) if self.reply_to else None)
            self.ref = SentRef(self.chat_id, str(sent.message_id))
            self._last, self._shown = now, payload.text
            return True
        if payload.text == self._shown:
            return True
        try:  # skip this update rather than queue behind the group's edit limit
            done = await self.sender.request(self.tg_id, lambda: self.sender.bot.edit_message_text(
                payload.text, chat_id=self.tg_id, message_id=int(self.ref.message_id),
                parse_mode=payload.parse_mode, link_preview_options=_NO_PREVIEW,
            ), edit=True, wait=False)
        except BadRequest as exc:
            log.debug("preview edit failed in %s: %s", self.chat_id, exc)
            return False
        if done is None:  # the limiter had no room: the next piece of text tries again
            return False
        self._last, self._shown = now, payload.text
        return True

    async def finish(self, message: Message) -> SentRef:
        self.first_words_since = None
        self._peers().discard(self)
        if not self._peers():
            self.sender.group_streams.pop(self.tg_id, None)
        if self.ref is None:
            return await self.sender.send(self.chat_id, message, reply_to=self.reply_to)
        return await self.sender._edit_parts(self.ref, render(message), message)

    async def fail(self, message: Message) -> SentRef:
        return await self.finish(message)
