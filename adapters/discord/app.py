"""The Discord bot process: build the client, connect it to paperboy, run and stop it.

`build_discord(paperboy, settings)` makes a `PaperboyClient` (slash commands, persistent buttons,
one error sink) and attaches a `DiscordSender` for "dc:" chats. `run_discord` runs it until
cancelled, so `paperboy run` can await it next to Telegram and the scheduler in one event loop;
`start_discord` (and `DiscordBot` behind it) is the start/stop form of the same: it returns once
logged in, keeps the gateway connection in a background task, and hands back its `stop`.

Endpoints: `discord.api_url` and `discord.gateway_url` point the client at another Discord (a local
fake in tests). discord.py keeps both as class attributes, `discord.http.Route.BASE` (REST, also
used by interaction webhooks) and `DiscordWebSocket.DEFAULT_GATEWAY` (a plain `Client` connects
there without asking `/gateway/bot`), so they are process-wide: one process talks to one Discord.
Intents: only `guilds`. Interactions arrive whatever the intents, and paperboy reads no messages,
so no privileged intent (message content, members, presences) is ever requested.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from adapters.discord.command_sync import sync_if_changed
from adapters.discord.commands import PaperboyTree, add_commands
from adapters.discord.components import ActionButton
from adapters.discord.interactions import InteractionHandler, PaperboyCore
from adapters.discord.sender import DiscordSender
from bot.config import DiscordSettings, Settings
from bot.ports import PlatformUnavailable

__all__ = [
    "DiscordBot",
    "PaperboyClient",
    "build_discord",
    "configure_endpoints",
    "run_discord",
    "start_discord",
    "start_discord_sender",
]

log = logging.getLogger(__name__)

DISCORD_GATEWAY = yarl.URL("wss://gateway.discord.gg/")
MAX_RATELIMIT_WAIT_S = 30.0  # longer 429 waits become TransientSendError, so the outbox retries later


def configure_endpoints(settings: DiscordSettings) -> None:
    """Point discord.py's REST and gateway URLs at `settings` (the real Discord by default)."""
    discord.http.Route.BASE = settings.api_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url) if settings.gateway_url else DISCORD_GATEWAY


class PaperboyClient(discord.Client):
    """A discord.py client whose every interaction goes to paperboy."""

    def __init__(self, paperboy: PaperboyCore, *, sessions: Any = None, **options: Any) -> None:
        options.setdefault("intents", discord.Intents(guilds=True))
        options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_WAIT_S)
        super().__init__(**options)
        self.paperboy = paperboy
        self.sessions = sessions  # the bot's database, for remembering the last command sync
        self.handler = InteractionHandler(paperboy)
        self.tree = PaperboyTree(self)
        add_commands(self.tree, self.handler)

    async def setup_hook(self) -> None:
        """Runs once after login: persistent buttons first, then the command sync if needed."""
        self.add_dynamic_items(ActionButton)
        if self.sessions is not None and self.application_id is not None:
            await sync_if_changed(self.tree, self.sessions, self.application_id)
        elif self.application_id is not None:
            await self.tree.sync()

    async def on_paperboy_button(self, interaction: discord.Interaction[Any], action: str) -> None:
        """Called by `ActionButton` for every press of a paperboy button."""
        await self.handler.run_button(interaction, action)

    async def on_ready(self) -> None:
        log.info("Discord: connected as %s (application %s)", self.user, self.application_id)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Failures outside interactions (gateway events): logged with the traceback."""
        log.exception("Discord event %s failed", event_method)


def build_discord(paperboy: Any, settings: Settings, **options: Any) -> PaperboyClient:
    """A ready-to-start client for `settings.discord`, attached to `paperboy` as the "dc" sender."""
    configure_endpoints(settings.discord)
    if settings.discord.shard_count > 1:  # one bot process per gateway shard
        options.setdefault("shard_id", settings.discord.shard_id)
        options.setdefault("shard_count", settings.discord.shard_count)
    client = PaperboyClient(paperboy, sessions=getattr(paperboy, "sessions", None), **options)
    paperboy.attach_sender("dc", DiscordSender(client, fleet=_fleet_buckets(paperboy)))
    return client


def _fleet_buckets(paperboy: Any) -> Any:
    """Discord's limits shared by every sender on PostgreSQL; on SQLite discord.py's own buckets suffice."""
    engine = getattr(paperboy, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        return None
    from bot.flood import SharedBuckets

    return SharedBuckets(engine)


async def run_discord(paperboy: Any, settings: Settings) -> None:
    """Run the Discord bot until cancelled (or until Discord refuses the token)."""
    if not settings.discord.token:
        raise ValueError("discord.token is empty: set it in paperboy.toml or PAPERBOY_DISCORD__TOKEN")
    client = build_discord(paperboy, settings)
    async with client:
        try:
            await client.start(settings.discord.token.get_secret_value())
        except discord.LoginFailure:
            log.error("Discord refused discord.token; check the bot token in the Developer Portal")
            raise
        except discord.PrivilegedIntentsRequired:
            log.error("Discord asked for privileged intents, which paperboy never requests")
            raise


class DiscordBot:
    """The Discord client run as a background task: `await bot.start()`, later `await bot.stop()`."""

    def __init__(self, paperboy: Any, settings: Settings, **options: Any) -> None:
        self.client = build_discord(paperboy, settings, **options)
        self._token = settings.discord.token.get_secret_value()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Log in and connect in the background; returns once logged in (setup done)."""
        try:
            await self.client.login(self._token)
        except discord.LoginFailure:
            log.error("Discord refused discord.token; check the bot token in the Developer Portal")
            await self.client.close()
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, discord.DiscordServerError) as exc:
            await self.client.close()
            raise PlatformUnavailable(f"Discord: {type(exc).__name__}: {exc}") from None
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        self._task.add_done_callback(_report_end)

    async def wait_until_ready(self) -> None:
        await self.client.wait_until_ready()

    async def stop(self) -> None:
        """Close the gateway and HTTP session and wait for the connection task to end."""
        await self.client.close()
        if self._task is not None:
            try:
                await self._task
            except (discord.ConnectionClosed, asyncio.CancelledError):
                pass
            except Exception:  # already logged by _report_end
                pass


def _report_end(task: asyncio.Task[None]) -> None:
    """The gateway connection ended on its own (not by `stop`): say why, loudly."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("the Discord connection stopped", exc_info=task.exception())


async def start_discord(paperboy: Any, settings: Settings) -> Callable[[], Awaitable[None]]:
    """Start the Discord bot for `paperboy run`; returns the coroutine function that stops it."""
    bot = DiscordBot(paperboy, settings)
    await bot.start()
    return bot.stop


async def start_discord_sender(paperboy: Any, settings: Settings) -> Callable[[], Awaitable[None]]:
    """Send-only Discord for `paperboy run --role sender`: REST after login, no gateway connection."""
    client = build_discord(paperboy, settings)
    try:
        await client.login(settings.discord.token.get_secret_value())
    except discord.LoginFailure:
        log.error("Discord refused discord.token; check the bot token in the Developer Portal")
        await client.close()
        raise
    log.info("Discord: sending only (outbox)")
    return client.close
