"""A fake Discord (REST API v10 and gateway) on 127.0.0.1, for driving a real discord.py Client.

REST: login (`/users/@me`, `/oauth2/applications/@me`, `/gateway/bot`), application commands
(bulk overwrite counts syncs), channel messages (create with nonce dedupe, edit, delete), DM
creation, interaction callbacks and webhook follow-ups (`@original` included). Message bodies are
checked against Discord's limits and refused with 400 / code 50035 like Discord does. Scripted
failures: `fail_channel` (e.g. 403 / 50007 for closed DMs) and `rate_limit` (429 with a `Via`
header, without which discord.py assumes a Cloudflare ban).

Gateway (`/gateway`, JSON text frames; discord.py asks for `compress=zlib-stream` in the query but
only inflates binary frames, so plain text frames are understood): HELLO (op 10), IDENTIFY (op 2)
-> READY, heartbeat (op 1) -> ACK (op 11). Tests then `inject` INTERACTION_CREATE dispatches built
by `slash`, `press`, `submit_modal` and `autocomplete`. Everything is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web

from tests.fakes.servers import serve_aiohttp

APP_ID = 1_300_000_000_000_000_001
GUILD_ID = 1_300_000_000_000_000_100
MANAGE_CHANNELS = 1 << 4
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)  # view, send, history, app commands
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content
LOADING_FLAG = 1 << 7
EPHEMERAL_FLAG = 1 << 6


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Interaction:
    id: int
    token: str
    channel_id: int
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original_id: int | None = None  # the message the response created or updates
    modal: dict[str, Any] | None = None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None, "bot": bot}


class FakeDiscord:
    """The fake; `async with FakeDiscord() as fake:` starts it on a free port."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token  # when set, REST calls with another bot token get 401 like Discord's
        self._ids = itertools.count(1_300_000_000_000_001_000)
        self.bot_user = _user(APP_ID, "paperboy", bot=True)
        self.requests: list[Recorded] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] = []
        self.command_syncs = 0
        self.identifies: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.interactions: dict[str, Interaction] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self._channel_failures: dict[int, tuple[int, int, str]] = {}
        self._rate_limits: list[tuple[str, str, float]] = []  # method, path regex, retry_after
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> "FakeDiscord":
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner, self.port = await serve_aiohttp(app)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def next_id(self) -> int:
        return next(self._ids)

    # --- scripting ---------------------------------------------------------------------------

    def fail_channel(self, channel_id: int, status: int = 403, code: int = 50007,
                     message: str = "Cannot send messages to this user") -> None:
        """Every message create in `channel_id` fails like this from now on."""
        self._channel_failures[channel_id] = (status, code, message)

    def rate_limit(self, method: str, path_pattern: str, retry_after: float = 0.05) -> None:
        """The next request matching answers 429 once (with the `Via` header Discord's proxies add)."""
        self._rate_limits.append((method, path_pattern, retry_after))

    def dm_channel_for(self, user_id: int) -> int:
        """The DM channel between the bot and a user (created on first use, as Discord does)."""
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = self.next_id()
        return self.dm_channels[user_id]

    # --- observing ---------------------------------------------------------------------------

    def channel_messages(self, channel_id: int, *, include_ephemeral: bool = True) -> list[dict[str, Any]]:
        return [
            m for m in self.messages.values()
            if int(m["channel_id"]) == channel_id and (include_ephemeral or not m["flags"] & EPHEMERAL_FLAG)
        ]

    def interactions_for_type(self, kind: int) -> list[Interaction]:
        """Injected interactions of one type (2 command, 3 button, 4 autocomplete, 5 modal), oldest first."""
        return [i for i in self.interactions.values() if i.payload["type"] == kind]

    def requests_to(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked after every request and gateway frame)."""
        async def _wait() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        return await asyncio.wait_for(_wait(), timeout)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                msg = json.loads(frame.data)
                if msg["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif msg["op"] == 2:
                    await self._identify(ws, msg["d"])
                await self._notify()
        finally:
            self._sockets.remove(ws)
            await self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("intents", 0) & PRIVILEGED_INTENTS:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        ready = {
            "v": 10, "user": self.bot_user, "guilds": [], "session_id": f"session-{len(self.identifies)}",
            "resume_gateway_url": self.gateway_url, "application": {"id": str(APP_ID), "flags": 0},
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))

    @property
    def connected(self) -> int:
        """How many gateway sessions have identified and are still open."""
        return len(self._sockets) if self.identifies else 0

    async def inject(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch to every connected client."""
        frame = json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data})
        for ws in list(self._sockets):
            await ws.send_str(frame)

    # --- building interactions ---------------------------------------------------------------

    def _interaction(self, kind: int, data: dict[str, Any], *, channel_id: int, user_id: int,
                     guild: bool, manage: bool, message: dict[str, Any] | None = None) -> dict[str, Any]:
        iid = self.next_id()
        token = f"token-{iid}"
        user = _user(user_id, f"user{user_id % 1000}")
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(APP_ID), "type": kind, "data": data, "token": token,
            "version": 1, "locale": "en-US", "attachment_size_limit": 10_485_760, "entitlements": [],
            "app_permissions": str(MEMBER_PERMISSIONS | (1 << 14)), "channel_id": str(channel_id),
        }
        if guild:
            perms = MEMBER_PERMISSIONS | (MANAGE_CHANNELS if manage else 0)
            payload.update(
                guild_id=str(GUILD_ID), guild={"id": str(GUILD_ID), "locale": "en-US", "features": []},
                channel={"id": str(channel_id), "type": 0, "guild_id": str(GUILD_ID), "name": "papers",
                         "position": 0, "permission_overwrites": [], "nsfw": False},
                member={"user": user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False,
                        "flags": 0, "permissions": str(perms)},
                context=0, authorizing_integration_owners={"0": str(GUILD_ID)},
            )
        else:
            payload.update(channel={"id": str(channel_id), "type": 1, "recipients": [user]}, user=user,
                           context=1, authorizing_integration_owners={"0": str(user_id)})
        if message is not None:
            payload["message"] = message
        self.interactions[token] = Interaction(iid, token, channel_id, payload)
        return payload

    async def slash(self, name: str, options: dict[str, str] | None = None, *, channel_id: int, user_id: int = 42,
                    guild: bool = True, manage: bool = True) -> Interaction:
        """A member runs `/name option:value ...`."""
        command = next((c for c in self.commands if c["name"] == name), {"id": str(self.next_id())})
        data = {"id": command["id"], "name": name, "type": 1,
                "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]}
        payload = self._interaction(2, data, channel_id=channel_id, user_id=user_id, guild=guild, manage=manage)
        await self.inject("INTERACTION_CREATE", payload)
        return self.interactions[payload["token"]]

    async def autocomplete(self, name: str, option: str, value: str, *, channel_id: int, user_id: int = 42) -> Interaction:
        """A member is typing `value` into option `option` of `/name`."""
        command = next((c for c in self.commands if c["name"] == name), {"id": str(self.next_id())})
        data = {"id": command["id"], "name": name, "type": 1,
                "options": [{"name": option, "type": 3, "value": value, "focused": True}]}
        payload = self._interaction(4, data, channel_id=channel_id, user_id=user_id, guild=True, manage=True)
        await self.inject("INTERACTION_CREATE", payload)
        return self.interactions[payload["token"]]

    async def press(self, message_id: int, custom_id: str, *, user_id: int = 42, manage: bool = True) -> Interaction:
        """A user presses the button `custom_id` of a stored message."""
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        guild = channel_id not in self.dm_channels.values()
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._interaction(3, data, channel_id=channel_id, user_id=user_id, guild=guild, manage=manage,
                                    message=message)
        interaction = self.interactions[payload["token"]]
        interaction.original_id = message_id
        await self.inject("INTERACTION_CREATE", payload)
        return interaction

    async def submit_modal(self, opened_by: Interaction, values: dict[str, str], *, user_id: int = 42) -> Interaction:
        """The user fills in and submits the modal that `opened_by`'s response opened."""
        assert opened_by.modal is not None, "that interaction did not open a modal"
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": c["components"][0]["custom_id"],
                                              "value": values.get(c["components"][0]["custom_id"], "")}]}
                for c in opened_by.modal["components"]]
        data = {"custom_id": opened_by.modal["custom_id"], "components": rows}
        guild = "guild_id" in opened_by.payload
        payload = self._interaction(5, data, channel_id=opened_by.channel_id, user_id=user_id, guild=guild, manage=True)
        await self.inject("INTERACTION_CREATE", payload)
        return self.interactions[payload["token"]]

    # --- REST ----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = await request.json() if request.can_read_body and request.content_type == "application/json" else None
        if body is None and request.can_read_body and request.content_type.startswith("multipart"):
            body = await self._multipart_json(request)
        self.requests.append(Recorded(request.method, path, dict(request.query), body))
        authorization = request.headers.get("Authorization")
        if self.token and authorization is not None and authorization != f"Bot {self.token}":
            await self._notify()
            return _error(401, 0, "401: Unauthorized")
        try:
            for index, (method, pattern, retry_after) in enumerate(self._rate_limits):
                if method == request.method and re.fullmatch(pattern, path):
                    del self._rate_limits[index]
                    return _json(
                        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                        status=429, headers={"Via": "1.1 google", "Retry-After": str(retry_after)},
                    )
            return await self._route(request.method, path, request.query, body)
        finally:
            await self._notify()

    async def _multipart_json(self, request: web.Request) -> Any:
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":  # type: ignore[union-attr]
                return json.loads(await part.text())  # type: ignore[union-attr]
        return None

    async def _route(self, method: str, path: str, query: Any, body: Any) -> web.StreamResponse:
        app = str(APP_ID)
        if path == "/users/@me" and method == "GET":
            return _json(self.bot_user)
        if path == "/oauth2/applications/@me" and method == "GET":
            return _json(self._application())
        if path in ("/gateway", "/gateway/bot"):
            return _json({"url": self.gateway_url, "shards": 1, "session_start_limit":
                                      {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}})
        if path == f"/applications/{app}/commands":
            if method == "PUT":
                self.command_syncs += 1
                self.commands = [dict(c, id=str(self.next_id()), application_id=app, version="1") for c in body]
            return _json(self.commands)
        if path == "/users/@me/channels" and method == "POST":
            user_id = int(body["recipient_id"])
            channel = self.dm_channel_for(user_id)
            return _json({"id": str(channel), "type": 1, "recipients": [_user(user_id, "someone")]})
        if m := re.fullmatch(r"/channels/(\d+)/messages", path):
            if method == "POST":
                return self._create_channel_message(int(m[1]), body)
        if m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            return self._existing_message(method, int(m[2]), body)
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return self._callback(m[2], body, query)
        if m := re.fullmatch(rf"/webhooks/{app}/([^/]+)", path):
            return self._followup(m[1], body, query)
        if m := re.fullmatch(rf"/webhooks/{app}/([^/]+)/messages/(@original|\d+)", path):
            return self._webhook_message(method, m[1], m[2], body)
        return _error(404, 0, f"fake Discord has no route {method} {path}")

    def _application(self) -> dict[str, Any]:
        return {"id": str(APP_ID), "name": "paperboy", "description": "", "icon": None, "bot_public": True,
                "bot_require_code_grant": False, "owner": _user(7, "owner"), "team": None,
                "verify_key": "0" * 64, "flags": 0, "summary": ""}

    def _create_channel_message(self, channel_id: int, body: dict[str, Any]) -> web.Response:
        if channel_id in self._channel_failures:
            status, code, message = self._channel_failures[channel_id]
            return _error(status, code, message)
        problem = validate_message(body)
        if problem:
            return _error(400, 50035, f"Invalid Form Body: {problem}")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            for existing in self.channel_messages(channel_id):
                if existing.get("nonce") == nonce and existing["author"]["id"] == self.bot_user["id"]:
                    return _json(existing)
        return _json(self._store(channel_id, body))

    def _store(self, channel_id: int, body: dict[str, Any], *, flags: int = 0, webhook: bool = False) -> dict[str, Any]:
        message_id = self.next_id()
        message = {
            "id": str(message_id), "channel_id": str(channel_id), "type": 0, "content": body.get("content") or "",
            "author": self.bot_user, "embeds": body.get("embeds") or [], "components": body.get("components") or [],
            "attachments": [], "mentions": [], "mention_roles": [], "pinned": False, "mention_everyone": False,
            "tts": False, "timestamp": _now(), "edited_timestamp": None, "flags": flags | body.get("flags", 0),
            "nonce": body.get("nonce"),
        }
        if webhook:
            message["webhook_id"] = str(APP_ID)
        if body.get("message_reference"):
            message["message_reference"] = body["message_reference"]
        self.messages[message_id] = message
        return message

    def _edit(self, message_id: int, body: dict[str, Any]) -> web.Response:
        if message_id not in self.messages:
            return _error(404, 10008, "Unknown Message")
        merged = {k: v for k, v in self.messages[message_id].items() if k in ("content", "embeds", "components")}
        merged.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
        problem = validate_message({k: v for k, v in merged.items() if v is not None}, allow_empty=True)
        if problem:
            return _error(400, 50035, f"Invalid Form Body: {problem}")
        message = self.messages[message_id]
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        message["edited_timestamp"] = _now()
        message["flags"] &= ~LOADING_FLAG
        return _json(message)

    def _existing_message(self, method: str, message_id: int, body: Any) -> web.Response:
        if method == "PATCH":
            return self._edit(message_id, body)
        if method == "DELETE":
            self.messages.pop(message_id, None)
            return web.Response(status=204)
        if method == "GET" and message_id in self.messages:
            return _json(self.messages[message_id])
        return _error(404, 10008, "Unknown Message")

    def _callback(self, token: str, body: dict[str, Any], query: Any) -> web.Response:
        interaction = self.interactions.get(token)
        if interaction is None:
            return _error(404, 10062, "Unknown interaction")
        if interaction.callbacks:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        interaction.callbacks.append(body)
        kind, data = body["type"], body.get("data") or {}
        resource: dict[str, Any] | None = {"type": kind}
        if kind in (4, 5):
            if kind == 4:
                problem = validate_message(data)
                if problem:
                    interaction.callbacks.clear()
                    return _error(400, 50035, f"Invalid Form Body: {problem}")
            flags = data.get("flags", 0) | (LOADING_FLAG if kind == 5 else 0)
            message = self._store(interaction.channel_id, data if kind == 4 else {}, flags=flags, webhook=True)
            interaction.original_id = int(message["id"])
            resource["message"] = message  # type: ignore[index]
        elif kind == 7:
            response = self._edit(interaction.original_id or 0, data)
            if response.status != 200:
                interaction.callbacks.clear()
                return response
            resource["message"] = self.messages[interaction.original_id]  # type: ignore[index]
        elif kind == 9:
            interaction.modal = data
            resource = None
        elif kind in (6, 8):
            resource = None
        result: dict[str, Any] = {"interaction": {"id": str(interaction.id), "type": interaction.payload["type"],
                                                  "response_message_loading": kind == 5}}
        if interaction.original_id and kind in (4, 5, 7):
            result["interaction"]["response_message_id"] = str(interaction.original_id)
        if resource is not None:
            result["resource"] = resource
        return _json(result)

    def _followup(self, token: str, body: dict[str, Any], query: Any) -> web.Response:
        interaction = self.interactions.get(token)
        if interaction is None:
            return _error(404, 10015, "Unknown Webhook")
        problem = validate_message(body)
        if problem:
            return _error(400, 50035, f"Invalid Form Body: {problem}")
        original = self.messages.get(interaction.original_id or 0)
        if original is not None and original["flags"] & LOADING_FLAG and interaction.callbacks[0]["type"] == 5:
            self._edit(int(original["id"]), body)  # the first follow-up fills in the "thinking…" message
            message = original
        else:
            message = self._store(interaction.channel_id, body, webhook=True)
        return _json(message) if query.get("wait") in ("true", "1", "True") else web.Response(status=204)

    def _webhook_message(self, method: str, token: str, which: str, body: Any) -> web.Response:
        interaction = self.interactions.get(token)
        if interaction is None:
            return _error(404, 10015, "Unknown Webhook")
        message_id = interaction.original_id if which == "@original" else int(which)
        return self._existing_message(method, message_id or 0, body)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as Discord labels it: discord.py parses bodies only for `application/json` verbatim."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status=status)


def validate_message(body: dict[str, Any], *, allow_empty: bool = False) -> str | None:
    """What Discord would refuse in a message body, or None. Mirrors the documented limits."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    components = body.get("components") or []
    if len(content) > 2000:
        return "content: must be 2000 or fewer in length"
    if not (content or embeds or components or allow_empty):
        return "Cannot send an empty message"
    if len(embeds) > 10:
        return "embeds: must be 10 or fewer in length"
    total = 0
    for i, embed in enumerate(embeds):
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            if len(embed.get(key) or "") > limit:
                return f"embeds.{i}.{key}: must be {limit} or fewer in length"
            total += len(embed.get(key) or "")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            return f"embeds.{i}.fields: must be 25 or fewer in length"
        for f in fields:
            if len(f["name"]) > 256 or len(f["value"]) > 1024:
                return f"embeds.{i}.fields: a field is too long"
            total += len(f["name"]) + len(f["value"])
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            return f"embeds.{i}.footer.text: must be 2048 or fewer in length"
        total += len(footer) + len((embed.get("author") or {}).get("name") or "")
    if total > 6000:
        return "embeds: embed size exceeds maximum size of 6000"
    if len(components) > 5:
        return "components: must be 5 or fewer in length"
    seen: set[str] = set()
    for r, row in enumerate(components):
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            return f"components.{r}: an action row holds 1 to 5 buttons"
        for b, button in enumerate(buttons):
            where = f"components.{r}.components.{b}"
            if len(button.get("label") or "") > 80:
                return f"{where}.label: must be 80 or fewer in length"
            if button.get("style") == 5:
                if not button.get("url") or button.get("custom_id"):
                    return f"{where}: a link button has a url and no custom_id"
                continue
            custom_id = button.get("custom_id") or ""
            if not 1 <= len(custom_id) <= 100:
                return f"{where}.custom_id: must be 1 to 100 in length"
            if custom_id in seen:
                return f"{where}.custom_id: component custom id cannot be duplicated"
            seen.add(custom_id)
    nonce = body.get("nonce")
    if nonce is not None and len(str(nonce)) > 25:
        return "nonce: must be 25 or fewer in length"
    return None
