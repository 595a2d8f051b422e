"""arXiv's announcement calendar, in the terms of the RSS feed: which days have a mailing, and when.

**Announcement day** = the date of an RSS feed (its `pubDate`, New York time). arXiv announces at
20:00 ET, Sunday to Thursday, and the feed dated the next day holds that announcement, so
announcement days are Monday to Friday; `announcement_time(day)` is 20:00 ET the evening before.
The RSS files themselves are rebuilt around midnight ET (`feed_time`), a few hours later.

    submissions (ET)        announced (ET)   announcement day (feed date)
    Mon 14:00 - Tue 14:00   Tue 20:00        Wed
    Tue 14:00 - Wed 14:00   Wed 20:00        Thu
    Wed 14:00 - Thu 14:00   Thu 20:00        Fri
    Thu 14:00 - Fri 14:00   Sun 20:00        Mon
    Fri 14:00 - Mon 14:00   Mon 20:00        Tue

**Holidays.** arXiv lists the dates on which it defers a mailing (2026: Jan 1, Jan 19, Jun 19, ...).
A holiday H cancels the mailing whose 14:00 ET deadline falls on H, so the announcement day that
goes missing is the first weekday *after* H: a Monday-to-Thursday holiday cancels the next day's
feed (Thanksgiving, Thu 26 Nov 2026: no feed dated Fri 27 Nov), and a Friday holiday cancels the
Sunday-evening announcement, i.e. the next Monday's feed. The submissions roll into the next
mailing. Why this reading: arXiv's own 2023 list names only Monday-to-Thursday dates ("no
announcement that evening"), and the later lists name Fridays (Jul 3 and Dec 25, 2026), which only
mean something under this rule. The real June 2026 crawls in ../shared/data agree: around
Juneteenth (Fri 19 Jun 2026) there is a feed dated Fri 19 Jun, none dated Mon 22 Jun, and the
Tue 23 Jun feed is twice the usual size; the 2025 crawls likewise miss Fri 20 Jun (Thu 19 Jun
holiday), Mon 7 Jul (Fri 4 Jul) and Fri 26 Dec (Thu 25 Dec).

Holidays are plain data (`ARXIV_HOLIDAYS`); every function takes `holidays=` to override them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping
from types import MappingProxyType
from zoneinfo import ZoneInfo

__all__ = [
    "ARXIV_HOLIDAYS",
    "NEW_YORK",
    "RSS_DELAY",
    "announcement_time",
    "deadline_day",
    "feed_time",
    "holiday_for",
    "is_announcement_day",
    "latest_announcement_day",
    "next_announcement_day",
    "parse_rfc822",
    "previous_announcement_day",
]

NEW_YORK = ZoneInfo("America/New_York")
ANNOUNCE_AT = dt.time(20, 0)  # ET, the evening before the announcement day
# The RSS files are rebuilt at midnight ET, four hours after the announcement (info.arxiv.org/help/rss).
RSS_DELAY = dt.timedelta(hours=4)

# Dates on which arXiv makes no mailing, as arXiv lists them (see the module docstring for how
# they map to announcement days). 2023 and 2026 are arXiv's published lists; 2025 is best-effort,
# inferred from US holidays and the days missing from the 2025 crawls. Add new years here.
_HOLIDAYS: dict[dt.date, str] = {
    # 2023 (arXiv docs, help/availability.md)
    dt.date(2023, 1, 16): "Martin Luther King Jr. Day",
    dt.date(2023, 6, 14): "arXiv holiday",
    dt.date(2023, 6, 19): "Juneteenth",
    dt.date(2023, 7, 4): "Independence Day",
    dt.date(2023, 9, 4): "Labor Day",
    dt.date(2023, 11, 23): "Thanksgiving",
    dt.date(2023, 12, 25): "Christmas",
    dt.date(2023, 12, 27): "winter break",
    # 2025 (best-effort)
    dt.date(2025, 1, 1): "New Year's Day",
    dt.date(2025, 1, 20): "Martin Luther King Jr. Day",
    dt.date(2025, 6, 19): "Juneteenth",
    dt.date(2025, 7, 4): "Independence Day",
    dt.date(2025, 9, 1): "Labor Day",
    dt.date(2025, 11, 27): "Thanksgiving",
    dt.date(2025, 12, 25): "Christmas",
    dt.date(2025, 12, 31): "New Year's Eve",
    # 2026 (arXiv)
    dt.date(2026, 1, 1): "New Year's Day",
    dt.date(2026, 1, 19): "Martin Luther King Jr. Day",
    dt.date(2026, 6, 19): "Juneteenth",
    dt.date(2026, 7, 3): "Independence Day (observed)",
    dt.date(2026, 9, 7): "Labor Day",
    dt.date(2026, 11, 26): "Thanksgiving",
    dt.date(2026, 12, 25): "Christmas",
    dt.date(2026, 12, 29): "winter break",
    dt.date(2026, 12, 31): "New Year's Eve",
}
ARXIV_HOLIDAYS: Mapping[dt.date, str] = MappingProxyType(_HOLIDAYS)

_MAX_GAP_DAYS = 60  # far more than any run of weekends and holidays; guards the day-stepping loops


def deadline_day(day: dt.date) -> dt.date:
    """The weekday whose 14:00 ET deadline closes the mailing of announcement day `day`."""
    return day - dt.timedelta(days=3 if day.weekday() == 0 else 1)


def holiday_for(day: dt.date, holidays: Mapping[dt.date, str] = ARXIV_HOLIDAYS) -> str | None:
    """The name of the holiday that cancels the mailing of `day`, or None (say why there is none)."""
    if day.weekday() >= 5:
        return None
    return holidays.get(deadline_day(day))


def is_announcement_day(day: dt.date, holidays: Mapping[dt.date, str] = ARXIV_HOLIDAYS) -> bool:
    """True when arXiv publishes a feed dated `day`: Monday to Friday, unless a holiday cancels it."""
    return day.weekday() < 5 and deadline_day(day) not in holidays


def announcement_time(day: dt.date) -> dt.datetime:
    """When arXiv announces the mailing of `day`: 20:00 New York time the evening before (aware)."""
    return dt.datetime.combine(day - dt.timedelta(days=1), ANNOUNCE_AT, tzinfo=NEW_YORK)


def feed_time(day: dt.date) -> dt.datetime:
    """When the RSS feed dated `day` is rebuilt with that mailing: midnight New York time (aware)."""
    return announcement_time(day) + RSS_DELAY


def latest_announcement_day(
    now: dt.datetime,
    holidays: Mapping[dt.date, str] = ARXIV_HOLIDAYS,
    *,
    delay: dt.timedelta = dt.timedelta(0),
) -> dt.date:
    """The latest announcement day whose announcement (plus `delay`) is at or before `now`.

    With the default `delay` this is "the newest mailing arXiv has announced"; pass
    `delay=RSS_DELAY` for "the newest mailing the RSS feed already shows".
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("latest_announcement_day needs an aware datetime, e.g. datetime.now(timezone.utc)")
    # The newest day that could be due is tomorrow (New York): its announcement is tonight at 20:00.
    candidate = (now - delay).astimezone(NEW_YORK).date() + dt.timedelta(days=1)
    for _ in range(_MAX_GAP_DAYS):
        if is_announcement_day(candidate, holidays) and announcement_time(candidate) + delay <= now:
            return candidate
        candidate -= dt.timedelta(days=1)
    raise ValueError(f"no announcement day in the {_MAX_GAP_DAYS} days before {now.isoformat()}")


def next_announcement_day(after: dt.date, holidays: Mapping[dt.date, str] = ARXIV_HOLIDAYS) -> dt.date:
    """The first announcement day strictly after `after`."""
    return _step(after, 1, holidays)


def previous_announcement_day(day: dt.date, holidays: Mapping[dt.date, str] = ARXIV_HOLIDAYS) -> dt.date:
    """The last announcement day strictly before `day`."""
    return _step(day, -1, holidays)


def _step(day: dt.date, direction: int, holidays: Mapping[dt.date, str]) -> dt.date:
    candidate = day
    for _ in range(_MAX_GAP_DAYS):
        candidate += dt.timedelta(days=direction)
        if is_announcement_day(candidate, holidays):
            return candidate
    raise ValueError(f"no announcement day within {_MAX_GAP_DAYS} days of {day.isoformat()}")


def parse_rfc822(value: str | None) -> dt.datetime | None:
    """An RFC 822 date (RSS `pubDate`, HTTP `Retry-After`) as an aware datetime; UTC when it names
    no zone; None when it is absent or unreadable."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
