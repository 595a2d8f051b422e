"""`paperboy run --role scheduler|sender|bot|all`: the parts of the bot a process runs.

- scheduler: ingests each announcement and builds and enqueues the digests. Exactly one runs: it
  holds the "scheduler" lease in the database, and a second one waits, taking over when the first
  dies. It is also the only role that migrates the database.
- sender: flushes the outbox (any number of them; rows are claimed, see `bot.outbox`), talking to
  the platforms' REST APIs only: no polling, no gateway.
- bot: serves the chats (Telegram webhook or polling, Discord gateway) and answers them.
- all (the default): all three in one process, for a single machine.

Every role can serve `/metrics` and `/healthz` (`metrics.port`) and records its errors for
`paperboy status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator

from bot.app import Paperboy
from bot.config import Settings
from bot.db_thread import in_db_thread
from bot.lease import LEASE_TTL, SCHEDULER_LEASE, Lease
from bot.ports import PlatformUnavailable
from digest.errors import PaperboyError

log = logging.getLogger("paperboy")

Stopper = Callable[[], object]


def runs(role: str, part: str) -> bool:
    return role == "all" or role == part


async def run_scheduler_with_lease(app: Paperboy, holder: str, stop: asyncio.Event) -> None:
    """Wait for the scheduler lease, run the scheduler while holding it, renew it; stop on `stop`."""
    from bot.scheduler import build_scheduler

    lease = Lease(app.sessions, SCHEDULER_LEASE, holder, clock=app.clock)
    renew_every = LEASE_TTL.total_seconds() / 3
    scheduler = None
    waiting_logged = False
    try:
        while not stop.is_set():
            try:
                held = await in_db_thread(lease.try_acquire)
            except Exception:
                log.warning("could not reach the database to renew the scheduler lease", exc_info=True)
                held = False
            if held and scheduler is None:
                log.info("holding the scheduler lease (%s): scheduling ingest and delivery", holder)
                scheduler = build_scheduler(app, flush_outbox=False)
                scheduler.start()
                waiting_logged = False
            elif not held and scheduler is not None:
                log.warning("lost the scheduler lease: another scheduler took over; standing by")
                scheduler.shutdown(wait=False)
                scheduler = None
            elif not held and not waiting_logged:
                log.info("another scheduler holds the lease; standing by to take over if it stops")
                waiting_logged = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), renew_every)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            with contextlib.suppress(Exception):
                await in_db_thread(lease.release)


async def flush_outbox_forever(app: Paperboy, interval_s: float, stop: asyncio.Event) -> None:
    """The sender's loop: deliver what is due, then wait a little; errors are logged, never fatal."""
    while not stop.is_set():
        try:
            await app.deliver_pending()
        except Exception:
            log.exception("flushing the outbox failed")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)


PLATFORM_RETRY_S = (5, 10, 20, 40, 80, 160, 300)

PlatformStart = tuple[str, str, Callable[[], Awaitable[Stopper]]]


def platform_starts(app: Paperboy, settings: Settings, role: str) -> list[PlatformStart]:
    """(name, platform, start) for Telegram and Discord: serving chats (bot, all) or only sending (sender)."""
    starts: list[PlatformStart] = []
    serve = runs(role, "bot")
    if settings.telegram.token and (serve or role == "sender"):
        with _platform_extra("Telegram", "telegram"):
            from adapters.telegram import start_telegram
            from adapters.telegram.app import start_telegram_sender

        starts.append(("Telegram", "tg", lambda: (start_telegram if serve else start_telegram_sender)(app, settings)))
    if settings.discord.token and (serve or role == "sender"):
        with _platform_extra("Discord", "discord"):
            from adapters.discord import start_discord
            from adapters.discord.app import start_discord_sender

        starts.append(("Discord", "dc", lambda: (start_discord if serve else start_discord_sender)(app, settings)))
    return starts


class PlatformLibraryMissing(PaperboyError):
    """A platform has a token, but its library (the package's extra) is not installed."""


@contextlib.contextmanager
def _platform_extra(name: str, extra: str) -> Iterator[None]:
    """Turn a missing platform library into a message that says which extra to install."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in ("adapters", "bot", "digest"):
            raise  # our own code is broken: not a missing extra
        raise PlatformLibraryMissing(
            f"{extra}.token is set, but {name}'s library is not installed ({exc}): "
            f"pip install \"paperboy-bot[{extra}]\" (in a checkout: pip install -e \".[{extra}]\")") from None


async def start_platform(app: Paperboy, name: str, platform: str, start: Callable[[], Awaitable[Stopper]],
                         stoppers: list[Stopper]) -> bool:
    """Start one platform, retrying with backoff while it cannot be reached; False if it refused us.

    Each failed try is one log line (no traceback); a refused token ends the tries. Until it is
    up, its sender is detached, so its chats' outbox rows simply wait instead of failing.
    """
    for attempt in itertools.count():
        try:
            stoppers.append(await start())
            if attempt:
                log.info("%s: connected after %d retries", name, attempt)
            return True
        except PlatformUnavailable as exc:
            app.senders.pop(platform, None)
            wait = PLATFORM_RETRY_S[min(attempt, len(PLATFORM_RETRY_S) - 1)]
            log.warning("%s can't be reached (%s); retrying in %d s", name, exc, wait)
            await asyncio.sleep(wait)
        except Exception as exc:  # a refused token, a bad setting: retrying would not help
            app.senders.pop(platform, None)
            log.error("%s did not start: %s: %s", name, type(exc).__name__, exc)
            return False
    return False  # pragma: no cover
