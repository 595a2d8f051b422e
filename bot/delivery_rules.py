"""The delivery rules: when a chat is due, which days its digest covers, when a late feed is worth a note.

Pure functions of a subscription, the announcement calendar and the time: no database, no network,
no clock of their own. `bot.delivery` loads what they need and acts on the answers; tests here
need no app at all.

A chat is *due* when the store holds an announcement day newer than the last digest it got and its
delivery moment for that day has come: the first `HH:MM` (in its time zone, on one of its
weekdays) after both the announcement and the moment it subscribed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from digest.calendar import feed_time
from digest.layout import cards_shown, format_day
from digest.subscriptions import Subscription

__all__ = [
    "LATE_NOTE_AFTER",
    "MAX_ROLLED_DAYS",
    "aware_utc",
    "covered_days",
    "day_moment",
    "delivery_moment",
    "first_shown",
    "following_line",
    "ingest_given_up",
    "ingest_wait_over",
    "is_due",
    "is_late",
    "late_note",
    "oldest_last_digest",
]

LATE_NOTE_AFTER = dt.timedelta(minutes=30)  # a chat kept waiting this long past its time is told why
MAX_ROLLED_DAYS = 7  # at most a week of skipped days rolls into the next digest


def delivery_moment(sub: Subscription, available_at: dt.datetime, not_before: dt.datetime) -> dt.datetime:
    """The first delivery time of `sub` at or after both instants, on an allowed weekday."""
    zone = ZoneInfo(sub.timezone)
    start = max(available_at, not_before).astimezone(zone)
    hour, minute = (int(x) for x in sub.delivery_time.split(":"))
    moment = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment < start:
        moment = _next_day_same_time(moment, zone)
    allowed = sub.weekday_numbers or frozenset(range(7))
    for _ in range(7):
        if moment.weekday() in allowed:
            break
        moment = _next_day_same_time(moment, zone)
    return moment


def _next_day_same_time(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The same wall-clock time a day later (so 08:00 stays 08:00 across a daylight-saving change)."""
    naive = moment.replace(tzinfo=None) + dt.timedelta(days=1)
    return naive.replace(tzinfo=zone)


def aware_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` with a time zone: a naive one (as SQLite returns them) is UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def day_moment(sub: Subscription, day: dt.date) -> dt.datetime:
    """When `sub` should get the digest of announcement day `day`."""
    return delivery_moment(sub, feed_time(day), aware_utc(sub.created_at))


def is_due(sub: Subscription, day: dt.date, now: dt.datetime) -> bool:
    """Whether `sub` should have `day`'s digest by `now` (and does not have it yet)."""
    if not sub.is_active or (sub.last_digest_day is not None and sub.last_digest_day >= day):
        return False
    return now >= day_moment(sub, day)


def is_late(sub: Subscription, day: dt.date, now: dt.datetime) -> bool:
    """Whether `sub` has waited for `day`'s digest more than `LATE_NOTE_AFTER` past its delivery time."""
    return now >= day_moment(sub, day) + LATE_NOTE_AFTER


def late_note(day: dt.date, *, failing: bool) -> str:
    """The one line a waiting chat gets: arXiv is late, or (`failing`) arXiv cannot be reached."""
    if failing:
        return (f"I can't reach arXiv to fetch the feed for {format_day(day)} right now; "
                "your digest follows as soon as I can.")
    return f"arXiv's feed for {format_day(day)} is late; your digest follows when it arrives."


def ingest_wait_over(day: dt.date, now: dt.datetime, delay_min: int) -> bool:
    """Whether the feed of `day` has had `delay_min` minutes (`schedule.ingest_delay_min`) to appear."""
    return now >= feed_time(day) + dt.timedelta(minutes=delay_min)


def ingest_given_up(day: dt.date, now: dt.datetime, give_up_h: int) -> bool:
    """Whether `day`'s feed has been tried for `give_up_h` hours (`schedule.ingest_give_up_h`)."""
    return now > feed_time(day) + dt.timedelta(hours=give_up_h)


def covered_days(day: dt.date, subs: Sequence[Subscription], stored: Sequence[dt.date]) -> list[tuple[dt.date, ...]]:
    """The announcement days each chat's digest covers, ending at `day`, given the `stored` days.

    A day the chat did not get (a weekday it skipped, the process being down) rolls into its next
    digest, so no paper is ever missed; at most `MAX_ROLLED_DAYS` roll in. A first digest is one day.
    """
    covered: list[tuple[dt.date, ...]] = []
    for sub in subs:
        if sub.last_digest_day is None:
            covered.append((day,))
            continue
        last = sub.last_digest_day
        days = [d for d in stored if last < d <= day][-MAX_ROLLED_DAYS:]
        covered.append(tuple(days) or (day,))
    return covered


def oldest_last_digest(subs: Sequence[Subscription]) -> dt.date | None:
    """The oldest day any of `subs` last had a digest of: where the stored days to load start."""
    return min((s.last_digest_day for s in subs if s.last_digest_day), default=None)


def first_shown(sub: Subscription, entries: int, page_size: int) -> int:
    """How many papers a digest's first messages show: its cards, or the list's first page in compact style."""
    cards = cards_shown(sub.style, entries, sub.max_papers)
    return cards if cards else page_size


def following_line(sub: Subscription) -> str:
    """The digest header's "Following …" line: categories, keywords, authors."""
    parts = []
    if sub.categories:
        parts.append(sub.categories)
    if sub.keywords:
        parts.append("keywords: " + ", ".join(sub.keywords))
    if sub.authors:
        parts.append("authors: " + ", ".join(sub.authors))
    return "Following " + " · ".join(parts) if parts else ""
