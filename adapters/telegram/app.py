"""Wiring paperboy into a python-telegram-bot `Application`, and running it beside everything else.

`build_telegram` makes the Application (pointed at `telegram.base_url`, so a local Bot API server
or the test fake works the same as Telegram), registers the handlers and attaches a
`TelegramSender` to the core, so scheduled digests leave through the outbox with the same
rendering and flood control as replies. `start_telegram` initializes it, registers the commands
with setMyCommands and starts long polling (or a webhook when `telegram.webhook_url` is set,
checking Telegram's secret token); it returns the coroutine function that stops it again. It
never takes over the event loop (no `run_polling`), so `paperboy run` can run Discord and the
scheduler in the same loop.

Updates are processed concurrently (a slow /digest must not hold up everyone else), but one
chat's updates one after another in the order they came (`ChatOrderedProcessor`), so
`/subscribe` then `/digest` is answered in that order. PTB's getUpdates offset makes polling
idempotent on update_id, and a small guard drops the redeliveries a webhook can produce.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.constants import BotCommandLimit
from telegram.error import InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from adapters.ordering import ChatTurns
from adapters.telegram.context import AdminCache
from adapters.telegram.handlers import TelegramHandlers
from adapters.telegram.limits import RateLimiter, RateLimits
from adapters.telegram.sender import TelegramSender
from bot.app import Paperboy
from bot.command_specs import COMMANDS
from bot.config import Settings
from bot.ports import PlatformUnavailable
from bot.redact import redactor
from digest.errors import PaperboyError

__all__ = ["ChatOrderedProcessor", "build_telegram", "register_commands", "run_telegram", "start_telegram",
           "start_telegram_sender"]

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 32
POLL_TIMEOUT_S = 10


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Up to `max_concurrent_updates` updates at once, one chat's updates in the order they came."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._turns = ChatTurns()

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        """Take the chat's turn at once (PTB starts one task per update, in order), then run in turn.

        PTB's semaphore is taken without waiting when a slot is free and wakes waiters first in,
        first out, so the turns are taken in the order the updates arrived.
        """
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        async with self._turns.take(chat.id) as turn:
            await turn.wait()
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def make_limiter(paperboy: Paperboy, limits: RateLimits):  # type: ignore[no-untyped-def]
    """Flood limits for the whole fleet: in the database on PostgreSQL, in this process on SQLite."""
    if paperboy.engine.dialect.name == "postgresql":
        from adapters.telegram.shared_limits import SharedRateLimiter

        return SharedRateLimiter(paperboy.engine, limits)
    return RateLimiter(limits)


def build_telegram(paperboy: Paperboy, settings: Settings, *, limits: RateLimits | None = None) -> Application:
    """The PTB Application with paperboy's handlers; also attaches the "tg" sender to the core."""
    for noisy in ("httpx", "httpcore"):  # httpx logs request URLs, and Bot API URLs contain the token
        logging.getLogger(noisy).setLevel(logging.WARNING)
    tg = settings.telegram
    application = (
        ApplicationBuilder()
        .token(tg.token.get_secret_value())
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .concurrent_updates(ChatOrderedProcessor(CONCURRENT_UPDATES))
        .build()
    )
    limits = limits or RateLimits(overall_per_s=tg.broadcast_per_s)
    sender = TelegramSender(application.bot, limiter=make_limiter(paperboy, limits))
    handlers = TelegramHandlers(paperboy, sender, AdminCache(application.bot), webhook=bool(tg.webhook_url))
    paperboy.attach_sender("tg", sender)

    posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    application.add_handler(TypeHandler(Update, handlers.drop_duplicates), group=-1)
    application.add_handler(CommandHandler([c.name for c in COMMANDS], handlers.on_command, filters=posts))
    application.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
                                           handlers.on_unknown_command))
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, handlers.on_migrate))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
                                           handlers.on_text))
    application.add_handler(CallbackQueryHandler(handlers.on_callback))
    application.add_handler(ChatMemberHandler(handlers.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(ChatMemberHandler(handlers.on_chat_member, ChatMemberHandler.CHAT_MEMBER))
    application.add_error_handler(handlers.on_error)
    return application


async def register_commands(application: Application) -> None:
    """Tell Telegram the command list (the "/" menu) from `bot.command_specs.COMMANDS`."""
    await application.bot.set_my_commands(
        [BotCommand(c.name, c.description[:BotCommandLimit.MAX_DESCRIPTION]) for c in COMMANDS])


async def start_telegram(paperboy: Paperboy, settings: Settings, *,
                         limits: RateLimits | None = None) -> Callable[[], Awaitable[None]]:
    """Start the bot in the running loop (polling, or a webhook); returns the async function that stops it.

    Raises `PlatformUnavailable` when Telegram cannot be reached (the caller retries), and PTB's
    `InvalidToken` when Telegram refuses the token.
    """
    if not settings.telegram.token:
        raise ValueError("telegram.token is empty: get one from @BotFather")
    tg = settings.telegram
    application = build_telegram(paperboy, settings, limits=limits)
    try:
        await application.initialize()
    except InvalidToken:
        # PTB's message quotes the token; say what is wrong without it (and without its traceback).
        raise PaperboyError("Telegram rejected telegram.token; check it with @BotFather") from None
    except (NetworkError, RetryAfter) as exc:  # TimedOut is a NetworkError; InvalidToken is not
        raise PlatformUnavailable(f"{tg.base_url.split('/bot')[0]}: {type(exc).__name__}: {exc}") from None
    await register_commands(application)
    await application.start()
    if tg.webhook_url:
        secret = tg.webhook_secret.get_secret_value() or secrets.token_urlsafe(32)
        redactor.add([secret])  # PTB logs setWebhook's parameters at DEBUG
        await application.updater.start_webhook(
            listen=tg.webhook_listen, port=tg.webhook_port, url_path=urlsplit(tg.webhook_url).path.lstrip("/"),
            webhook_url=tg.webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES,
        )
        log.info("Telegram bot @%s receives updates by webhook", application.bot.username)
    else:
        await application.updater.start_polling(timeout=POLL_TIMEOUT_S, allowed_updates=Update.ALL_TYPES)
        log.info("Telegram bot @%s is polling for updates", application.bot.username)

    async def stop() -> None:
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    return stop


async def start_telegram_sender(paperboy: Paperboy, settings: Settings, *,
                                limits: RateLimits | None = None) -> Callable[[], Awaitable[None]]:
    """Send-only Telegram for `paperboy run --role sender`: the Bot API client, no polling or webhook."""
    if not settings.telegram.token:
        raise ValueError("telegram.token is empty: get one from @BotFather")
    application = build_telegram(paperboy, settings, limits=limits)
    await application.initialize()
    log.info("Telegram bot @%s: sending only (outbox)", application.bot.username)
    return application.shutdown


async def run_telegram(paperboy: Paperboy, settings: Settings) -> None:
    """Run the bot until cancelled (for callers that want one awaitable per adapter)."""
    stop = await start_telegram(paperboy, settings)
    try:
        await asyncio.Event().wait()
    finally:
        await stop()
