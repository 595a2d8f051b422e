"""Making sure the latest announcement is in: when to fetch a feed, and backing off after failures.

A digest goes out only for a day whose feed is in, so everything that delivers asks here first.
The rules:
- a feed nobody fetched yet for the day is fetched at once (start-up, a late start, a new category);
  the backoff below is per day, so it never holds back a feed that was not tried;
- a failed fetch is retried with backoff: 1, 2, 4 minutes, then every `schedule.ingest_retry_min`;
- a feed that still shows an older day (arXiv is late) is asked again every `ingest_retry_min`;
- a person asking (`/digest`) may try again sooner, but at most every `RETRY_FLOOR`, and gets an
  answer within `arxiv.interactive_timeout_s`, never the replay of an old failure.
The state lives in memory: after a restart every missing feed is simply fetched at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.calendar import RSS_DELAY, latest_announcement_day
from digest.categories import MERGE_NAMES_PER_REQUEST, CategoryExpr
from digest.matching import subscription_expr
from digest.subscriptions import Subscription

if TYPE_CHECKING:  # bot.app holds a FeedWatch, so this module may not import it at run time
    from bot.app import Paperboy

log = logging.getLogger(__name__)

BACKOFF_MIN = (1, 2, 4)  # minutes before the 1st, 2nd, 3rd retry; then schedule.ingest_retry_min
RETRY_FLOOR = dt.timedelta(seconds=30)  # how often people asking may make us ask arXiv again


@dataclass
class DayAttempts:
    """What happened when we last asked arXiv for one announcement day."""

    failures: int = 0  # consecutive failed fetches
    last_try: dt.datetime | None = None
    next_try: dt.datetime | None = None


class FeedWatch:
    """Per announcement day: when we asked arXiv, how it went, and when to ask again."""

    def __init__(self, retry_min: int) -> None:
        self.retry = dt.timedelta(minutes=max(1, retry_min))
        self._days: dict[dt.date, DayAttempts] = {}
        self.noted: set[tuple[str, dt.date]] = set()  # (chat, day) told that the feed is late

    def attempts(self, day: dt.date) -> DayAttempts:
        return self._days.setdefault(day, DayAttempts())

    def may_fetch(self, day: dt.date, now: dt.datetime, *, asked_by_user: bool = False) -> bool:
        """Whether to ask arXiv for `day` now."""
        state = self.attempts(day)
        if state.last_try is None or state.next_try is None:
            return True
        if asked_by_user:
            return now - state.last_try >= RETRY_FLOOR
        return now >= state.next_try

    def record(self, day: dt.date, outcome: str, now: dt.datetime) -> None:
        """Remember an attempt's outcome and when the next one is due."""
        state = self.attempts(day)
        state.last_try = now
        if outcome in ("failed", "unreachable"):
            state.failures += 1
            steps = BACKOFF_MIN[state.failures - 1] if state.failures <= len(BACKOFF_MIN) else None
            wait = dt.timedelta(minutes=steps) if steps is not None else self.retry
            state.next_try = now + min(wait, self.retry)
        else:
            state.failures = 0
            state.next_try = now + self.retry
        horizon = day - dt.timedelta(days=14)
        for old in [d for d in self._days if d < horizon]:
            del self._days[old]
        self.noted = {(chat, d) for chat, d in self.noted if d >= horizon}

    def failing(self, day: dt.date) -> bool:
        return self.attempts(day).failures > 0

    def next_try(self, day: dt.date, now: dt.datetime) -> dt.datetime:
        """When arXiv will be asked for `day` again (for "I'll try again at HH:MM")."""
        state = self.attempts(day)
        return max(state.next_try or now, now)


# --- which feeds a chat needs --------------------------------------------------------------------


def feed_names(feeds: dict[str, str] | list[str]) -> set[str]:
    """Every category or archive name in `+`-joined feed paths."""
    return {name for feed in feeds for name in feed.split("+") if name}


def covers(names: set[str], expr: CategoryExpr) -> bool:
    """Whether feeds holding `names` bring every category and archive `expr` follows."""
    return names_covered(expr.include | expr.archives, names)


def partly_covers(names: set[str], expr: CategoryExpr) -> bool:
    """Whether feeds holding `names` bring at least one category `expr` follows."""
    return any(names_covered({name}, names) for name in expr.include | expr.archives)


def names_covered(wanted: set[str] | frozenset[str], names: set[str]) -> bool:
    """Whether every category or archive in `wanted` is in `names` (a category also by its archive)."""
    return all(name in names or name.split(".", 1)[0] in names for name in wanted)


def uncovered_feeds(app: Paperboy, day: dt.date, expr: CategoryExpr) -> list[str]:
    """Feed paths for just the categories of `expr` whose feed of `day` is not in yet."""
    names = announced_names(app, day)
    if names is None:
        return []
    wanted = sorted(n for n in expr.archives | expr.include if not names_covered({n}, names))
    return ["+".join(wanted[i:i + MERGE_NAMES_PER_REQUEST]) for i in range(0, len(wanted), MERGE_NAMES_PER_REQUEST)]


def missing_feeds(app: Paperboy, day: dt.date, feeds: list[str]) -> list[str]:
    """The feed paths among `feeds` whose categories no announced feed of `day` brought yet."""
    statuses = app.store.mailing_status(day)
    announced = feed_names([f for f, s in statuses.items() if s == "announced"])
    return [feed for feed in feeds if not names_covered(set(feed.split("+")), announced)]


def announced_names(app: Paperboy, day: dt.date) -> set[str] | None:
    """The categories and archives whose feed for `day` is in; None when the day was imported.

    A day that was imported (daily files, snapshots) rather than fetched has no feed records;
    its papers are all there is, so every category counts as in when it has any.
    """
    statuses = app.store.mailing_status(day)
    if not statuses and app.store.count_by_type(day):
        return None
    return feed_names([f for f, s in statuses.items() if s == "announced"])


def day_is_in(app: Paperboy, sub: Subscription, day: dt.date) -> bool:
    """Whether the announcement of `day` was fetched for every category `sub` follows."""
    expr = subscription_expr(sub.categories)
    if expr is None:
        return False
    names = announced_names(app, day)
    return names is None or covers(names, expr)


def latest_day_in(app: Paperboy, sub: Subscription, on_or_before: dt.date, lookback_days: int = 30) -> dt.date | None:
    """The newest announcement day, at most `on_or_before`, that is in for `sub`."""
    days = app.store.announced_days(after=on_or_before - dt.timedelta(days=lookback_days), upto=on_or_before)
    return next((d for d in reversed(days) if day_is_in(app, sub, d)), None)


def expected_day(app: Paperboy) -> dt.date:
    """The newest announcement day whose RSS feed should be out by now."""
    return latest_announcement_day(app.clock(), delay=RSS_DELAY)


def local_time(moment: dt.datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M")
