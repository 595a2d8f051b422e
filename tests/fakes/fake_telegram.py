"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot talks to.

Point PTB at it with `ApplicationBuilder().base_url(fake.base_url)`. It answers the methods paperboy
uses, and it is strict where Telegram is strict, so that a test passing here means a message
Telegram would accept:

- HTML parse mode: only the tags Telegram allows, properly nested and closed, `& < >` escaped,
  no nested blockquotes -> otherwise 400 "can't parse entities", like Telegram;
- text at most 4096 UTF-16 units after parsing, callback_data 1-64 bytes, at most 100 buttons and
  8 a row, answerCallbackQuery text at most 200 characters, bot commands well formed;
- flood limits (scalable): messages per second overall, per chat, per group per minute, and group
  edits per minute -> 429 with `parameters.retry_after`;
- scripted chat failures: blocked (403), migrated to a supergroup (400 + migrate_to_chat_id), a 429
  or a parse error on the next send.

Tests push updates (`push_update` and the builders below) that `getUpdates` long-polls, and read
what the bot did from `calls` and `chats[chat_id]` (the live state of every message sent).
Runs an aiohttp server on its own event loop in a thread, so it never shares the test's loop
(aiohttp comes with discord.py); long polls wait in a worker thread.
"""

from __future__ import annotations

import asyncio
import html.parser
import itertools
import json
import math
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs

from aiohttp import web

from tests.fakes.servers import serve_aiohttp

TOKEN = "123456:TEST-token-not-real"
BOT_ID = 123456
ALLOWED_TAGS = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(), "s": set(),
    "strike": set(), "del": set(), "a": {"href"}, "code": {"class"}, "pre": set(),
    "tg-spoiler": set(), "span": {"class"}, "blockquote": {"expandable"}, "tg-emoji": {"emoji-id"},
    "tg-time": {"unix", "format"},
}  # fmt: skip
SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
EDIT_METHODS = {"editMessageText", "editMessageReplyMarkup"}


class ApiError(Exception):
    """An error answer: HTTP status, Telegram description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class FakeLimits:
    """Flood limits the fake enforces as sliding windows; scale them up to keep benchmarks short."""

    overall_per_s: float = 30.0
    chat_per_s: float = 1.0
    group_per_min: float = 20.0
    group_edits_per_min: float = 20.0
    enforce: bool = True


@dataclass
class Call:
    """One request the bot made: method, decoded parameters, when, and the HTTP status answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    description: str = ""


# --- HTML validation, as Telegram's parser would do it ----------------------------------------


class _TelegramHtml(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported start tag \"{tag}\"")
        for name, _ in attrs:
            if name not in ALLOWED_TAGS[tag]:
                raise ApiError(400, f"Bad Request: can't parse entities: unsupported attribute \"{name}\" of \"{tag}\"")
        if tag == "blockquote" and "blockquote" in self.stack:
            raise ApiError(400, "Bad Request: can't parse entities: blockquote can't be nested")
        if tag == "a" and not dict(attrs).get("href"):
            raise ApiError(400, "Bad Request: can't parse entities: a tag without href")
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise ApiError(400, f"Bad Request: can't parse entities: unsupported self-closing tag \"{tag}\"")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: unmatched end tag \"{tag}\"")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported entity \"&{name};\"")
        self.text.append({"lt": "<", "gt": ">", "amp": "&", "quot": '"'}[name])

    def handle_charref(self, name: str) -> None:
        self.text.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))

    def handle_comment(self, data: str) -> None:
        raise ApiError(400, "Bad Request: can't parse entities: comments are not supported")


_BARE_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#[xX][0-9a-fA-F]+);)")
_BARE_LT = re.compile(r"<(?!/?[a-zA-Z][a-zA-Z-]*(?:\s[^<>]*)?>)")


def parse_html(text: str) -> str:
    """The visible text of a Telegram HTML message; raises ApiError(400) where Telegram would."""
    if _BARE_AMP.search(text):
        raise ApiError(400, "Bad Request: can't parse entities: unescaped & (use &amp;)")
    if _BARE_LT.search(text):
        raise ApiError(400, "Bad Request: can't parse entities: unescaped < (use &lt;)")
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise ApiError(400, f"Bad Request: can't parse entities: can't find end tag corresponding to start tag \"{parser.stack[-1]}\"")
    return "".join(parser.text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- sliding-window flood control ------------------------------------------------------------


class _Window:
    """At most `count` events in any `seconds`; answers how long until the next one is allowed."""

    def __init__(self, count: float, seconds: float) -> None:
        self.count, self.seconds = max(1, int(count)), seconds
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.count:
            return 0.0
        return self.times[0] + self.seconds - now

    def add(self, now: float) -> None:
        self.times.append(now)


def _window_for(rate_per_s: float) -> tuple[float, float]:
    """(count, seconds) for a per-second rate: 30/s -> 30 in 1 s; 0.5/s -> 1 in 2 s."""
    return (rate_per_s, 1.0) if rate_per_s >= 1 else (1, 1.0 / rate_per_s)


# --- the server ------------------------------------------------------------------------------


@dataclass
class FakeChat:
    """A chat as the fake knows it: its type and the live state of the bot's messages in it."""

    id: int
    type: str
    title: str = ""
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)
    blocked: bool = False
    migrated_to: int | None = None


class FakeTelegram:
    """The fake Bot API; use as a context manager or call start()/stop()."""

    def __init__(self, *, limits: FakeLimits | None = None, username: str = "paperboy_test_bot", long_poll_s: float = 0.5) -> None:
        self.token = TOKEN
        self.username = username
        self.limits = limits or FakeLimits()
        self.long_poll_s = long_poll_s
        self.calls: list[Call] = []
        self.chats: dict[int, FakeChat] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.drafts: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}
        self.flood_count = 0
        self._scripted: dict[int, deque[ApiError | None]] = defaultdict(deque)
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._cond = threading.Condition()
        self._overall = _Window(*_window_for(self.limits.overall_per_s))
        self._per_chat: dict[int, _Window] = {}
        self._per_group: dict[int, _Window] = {}
        self._group_edits: dict[int, _Window] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._stopping = False

    # lifecycle

    def start(self) -> "FakeTelegram":
        started = threading.Event()
        self._thread = threading.Thread(target=self._run_server, args=(started,), name="fake-telegram", daemon=True)
        self._thread.start()
        started.wait(10)
        assert self._port, "the fake Telegram server did not start"
        return self

    def _run_server(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._serve)
        runner, self._port = loop.run_until_complete(serve_aiohttp(app, access_log=None, handle_signals=False))
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._stopping = True
            with self._cond:
                self._cond.notify_all()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._port, "start() the fake first"
        return f"http://127.0.0.1:{self._port}/bot"

    # test controls

    def chat(self, chat_id: int, type: str | None = None, *, title: str = "", admins: tuple[int, ...] = ()) -> FakeChat:
        """The chat with this id, created on first use (negative ids are groups unless typed)."""
        with self._cond:
            chat = self.chats.get(chat_id)
            if chat is None:
                kind = type or ("private" if chat_id > 0 else "supergroup" if str(chat_id).startswith("-100") else "group")
                chat = self.chats[chat_id] = FakeChat(chat_id, kind, title or f"chat {chat_id}")
            if type:
                chat.type = type
            chat.admins.update(admins)
            return chat

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every send to the chat answers 403."""
        self.chat(chat_id).blocked = True

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: sends to the old id answer 400 with migrate_to_chat_id."""
        self.chat(chat_id).migrated_to = new_chat_id
        self.chat(new_chat_id, "supergroup", admins=tuple(self.chat(chat_id).admins))

    def fail_next(self, chat_id: int, kind: str, *, retry_after: int = 1, after: int = 0) -> None:
        """Script a send to a chat to fail (kind "flood", "parse" or "down"), after `after` sends that succeed."""
        errors = {
            "down": ApiError(502, "Bad Gateway"),
            "flood": ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}),
            "parse": ApiError(400, "Bad Request: can't parse entities: scripted failure"),
        }
        with self._cond:
            self._scripted[chat_id].extend([None] * after)
            self._scripted[chat_id].append(errors[kind])

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._cond.notify_all()
            return update["update_id"]

    def calls_to(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat in the order sent, as they look now (after edits)."""
        with self._cond:
            return list(self.chat(chat_id).messages.values())

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Poll `predicate` from async tests until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
            await asyncio.sleep(0.02)

    # update builders

    def user(self, user_id: int, name: str = "Ada") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name, "username": name.lower()}

    def _chat_obj(self, chat: FakeChat) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": chat.id, "type": chat.type}
        if chat.type == "private":
            obj["first_name"] = "Ada"
        else:
            obj["title"] = chat.title
        return obj

    def text(self, chat_id: int, text: str, *, user_id: int | None = None, reply_to: int | None = None,
             sender_chat: int | None = None) -> int:
        """A user writes `text` in a chat (a channel post for channels); commands and mentions get entities."""
        chat = self.chat(chat_id)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat_obj(chat), "text": text,
        }
        if chat.type != "channel":
            message["from"] = self.user(user_id if user_id is not None else chat_id)
        if sender_chat is not None or chat.type == "channel":
            message["sender_chat"] = self._chat_obj(self.chat(sender_chat if sender_chat is not None else chat_id))
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])})
        for match in re.finditer(r"@\w+", text):
            entities.append({"type": "mention", "offset": utf16_len(text[: match.start()]), "length": utf16_len(match.group())})
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            with self._cond:
                message["reply_to_message"] = dict(chat.messages[reply_to])
        key = "channel_post" if chat.type == "channel" else "message"
        return self.push_update({key: message})

    def press(self, chat_id: int, message_id: int, data: str | None = None, *, user_id: int | None = None,
              label: str | None = None) -> str:
        """A user presses a button (by label or callback data) under one of the bot's messages; returns the query id."""
        with self._cond:
            message = dict(self.chat(chat_id).messages[message_id])
        if data is None:
            buttons = [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
            matches = [b for b in buttons if label and label.lower() in b["text"].lower() and "callback_data" in b]
            assert matches, f"no button labelled {label!r} under message {message_id}: {[b['text'] for b in buttons]}"
            data = matches[0]["callback_data"]
        query_id = f"q{next(self._message_ids)}"
        self.push_update({"callback_query": {
            "id": query_id, "from": self.user(user_id if user_id is not None else chat_id),
            "message": message, "chat_instance": str(chat_id), "data": data,
        }})
        return query_id

    def member_update(self, chat_id: int, status: str, *, by_user: int = 1, old_status: str = "left") -> int:
        """The bot's own membership changed (added to a group, kicked, blocked in a private chat)."""
        chat = self.chat(chat_id)
        bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Paperboy", "username": self.username}

        def member(st: str) -> dict[str, Any]:
            data: dict[str, Any] = {"user": bot_user, "status": st}
            if st == "kicked":
                data["until_date"] = 0
            if st == "administrator":
                data.update(_ADMIN_RIGHTS)
            return data

        return self.push_update({"my_chat_member": {
            "chat": self._chat_obj(chat), "from": self.user(by_user), "date": int(time.time()),
            "old_chat_member": member(old_status), "new_chat_member": member(status),
        }})

    def migration(self, chat_id: int, new_chat_id: int) -> int:
        """The service message Telegram posts in a group that became a supergroup."""
        self.migrate(chat_id, new_chat_id)
        chat = self.chat(chat_id)
        return self.push_update({"message": {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat_obj(chat),
            "from": self.user(1), "migrate_to_chat_id": new_chat_id,
        }})

    # HTTP plumbing

    async def _serve(self, request: web.Request) -> web.Response:
        body = await request.read()
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", request.path)
        status, payload = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if match and match.group(1) != self.token:
            status, payload = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif match:
            method = match.group(2)
            params = _decode(body, request.headers.get("Content-Type", ""))
            call = Call(method, params, time.monotonic())
            with self._cond:
                self.calls.append(call)
            try:
                if method == "getUpdates":  # blocks while long-polling: off the server's loop
                    result = await asyncio.get_running_loop().run_in_executor(None, self._get_updates, params)
                else:
                    result = self._dispatch(method, params)
                status, payload = 200, {"ok": True, "result": result}
            except ApiError as err:
                status = err.code
                payload = {"ok": False, "error_code": err.code, "description": err.description}
                if err.parameters:
                    payload["parameters"] = err.parameters
                call.description = err.description
            call.status = status
        return web.json_response(payload, status=status)

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, f"Not Found: method {method} not found")
        with self._cond:
            return handler(params)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), self.long_poll_s)
        deadline = time.monotonic() + timeout
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline and not self._stopping:
                self._cond.wait(deadline - time.monotonic())
            return list(self._updates[: int(params.get("limit") or 100)])

    # methods (called with the lock held)

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Paperboy", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = dict(params)
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", cmd.get("command", "")):
                raise ApiError(400, f"Bad Request: BOT_COMMAND_INVALID {cmd.get('command')!r}")
            if not 1 <= len(cmd.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    def _m_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(int(params["chat_id"]))
        user_id = int(params["user_id"])
        user = self.user(user_id)
        if user_id in chat.admins:
            return {"user": user, "status": "administrator", **_ADMIN_RIGHTS}
        return {"user": user, "status": "member"}

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        text = params.get("text") or ""
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query_id = params["callback_query_id"]
        if query_id in self.callback_answers:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers[query_id] = {**params, "at": time.monotonic()}
        return True

    def _m_sendMessageDraft(self, params: dict[str, Any]) -> bool:
        chat = self.chat(int(params["chat_id"]))
        if chat.type != "private":
            raise ApiError(400, "Bad Request: drafts can be sent only to private chats")
        if not int(params.get("draft_id") or 0):
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        self._visible_text(params)
        self.drafts.append(dict(params))
        return True

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat = self.chat(int(params["chat_id"]))
        if chat.messages.pop(int(params["message_id"]), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target(params)
        text = self._visible_text(params)
        markup = _check_markup(params.get("reply_markup"))
        self._flood_check(chat, edit=False)
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat_obj(chat),
                   "from": self._m_getMe({}), "text": text, "html": params.get("text") if params.get("parse_mode") else None}
        if markup:
            message["reply_markup"] = markup
        chat.messages[message["message_id"]] = message
        return _public(message)

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message = self._editable(params)
        text = self._visible_text(params)
        markup = _check_markup(params.get("reply_markup"))
        html_text = params.get("text") if params.get("parse_mode") else None
        if text == message["text"] and html_text == message.get("html") and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        self._flood_check(chat, edit=True)
        message.update(text=text, html=html_text, edited=message.get("edited", 0) + 1)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return _public(message)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message = self._editable(params)
        markup = _check_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        self._flood_check(chat, edit=True)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        return _public(message)

    # checks

    def _target(self, params: dict[str, Any]) -> FakeChat:
        chat = self.chat(int(params["chat_id"]))
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to})
        if chat.blocked:
            reason = "bot was blocked by the user" if chat.type == "private" else "bot was kicked from the group chat"
            raise ApiError(403, f"Forbidden: {reason}")
        err = self._scripted[chat.id].popleft() if self._scripted[chat.id] else None
        if err is not None:
            if err.code == 429:
                self.flood_count += 1
            raise err
        return chat

    def _editable(self, params: dict[str, Any]) -> tuple[FakeChat, dict[str, Any]]:
        chat = self._target(params)
        message = chat.messages.get(int(params["message_id"]))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return chat, message

    def _visible_text(self, params: dict[str, Any]) -> str:
        raw = params.get("text") or ""
        parse_mode = (params.get("parse_mode") or "").upper()
        if parse_mode == "HTML":
            text = parse_html(raw)
        elif parse_mode:
            raise ApiError(400, f"Bad Request: this fake only speaks HTML, not {parse_mode}")
        else:
            text = raw
        text = text.strip()
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _flood_check(self, chat: FakeChat, *, edit: bool) -> None:
        if not self.limits.enforce:
            return
        now = time.monotonic()
        windows = [self._overall]
        group = chat.type in ("group", "supergroup")
        if edit:
            if group:
                windows.append(self._group_edits.setdefault(chat.id, _Window(self.limits.group_edits_per_min, 60.0)))
        else:
            windows.append(self._per_chat.setdefault(chat.id, _Window(*_window_for(self.limits.chat_per_s))))
            if group:
                windows.append(self._per_group.setdefault(chat.id, _Window(self.limits.group_per_min, 60.0)))
        wait = max(w.wait(now) for w in windows)
        if wait > 0:
            self.flood_count += 1
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        for w in windows:
            w.add(now)


_ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
    "can_manage_video_chats": True, "can_restrict_members": True, "can_promote_members": False,
    "can_change_info": True, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
    "can_delete_stories": False,
}  # fmt: skip


def _decode(body: bytes, content_type: str) -> dict[str, Any]:
    """PTB posts form fields with nested values as JSON strings; decode both kinds."""
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body)
    params: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        value = values[-1]
        if key in {"reply_markup", "entities", "commands", "allowed_updates", "link_preview_options", "reply_parameters"}:
            value = json.loads(value)
        params[key] = value
    return params


def _check_markup(markup: Any) -> dict[str, Any] | None:
    if not markup:
        return None
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if sum(len(r) for r in rows) > 100:
        raise ApiError(400, "Bad Request: reply markup is too long")
    for row in rows:
        if len(row) > 8:
            raise ApiError(400, "Bad Request: too many buttons in a row")
        for button in row:
            if not button.get("text", "").strip():
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            kinds = [k for k in ("callback_data", "url") if k in button]
            if len(kinds) != 1:
                raise ApiError(400, "Bad Request: a button needs exactly one of callback_data and url")
            if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button and not re.match(r"(https?|tg)://", button["url"]):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return markup


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in {"html", "edited"}}
