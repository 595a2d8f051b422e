"""Ingesting a day's announcements: fetch every feed group, store the papers, remember the outcome.

Three outcomes must never be confused: arXiv announced (items for the expected day), arXiv has not
announced yet (the feed still shows an older day, or is empty on an announcement day, which is how
a late feed looks), and the fetch failed (network, 5xx, a page that is not a feed). Each feed's
outcome is recorded in `mailings`, so `/digest` can tell users which one they are seeing and the
scheduler knows to try again.

A feed cannot lie its way into the store. Its date must be a day arXiv announces on (the calendar)
and the day expected; a feed dated another day is refused and logged, except that a stale feed
still showing the previous announcement day may fill that day when nothing of it is stored yet. A
stored day is never changed by another day's feed. Items refused by the parser (unknown announce
type, categories unknown to the taxonomy, unreadable) or dated another day are counted in the
report's `skipped`, never dropped silently.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from digest.arxiv_http import ArxivHttp
from digest.calendar import is_announcement_day, previous_announcement_day
from digest.errors import FeedUnavailable
from digest.models import FeedResult
from digest.rss import fetch_feed
from digest.store import PaperStore

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest run found."""

    expected_day: dt.date
    feeds: dict[str, str] = field(default_factory=dict)  # feed -> announced | not_yet | failed
    new_listings: int = 0
    by_type: Counter = field(default_factory=Counter)
    other_days: set[dt.date] = field(default_factory=set)  # older days a stale feed still listed
    errors: dict[str, str] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)  # items not taken, by reason

    @property
    def complete(self) -> bool:
        """Every feed had the expected day's announcement."""
        return bool(self.feeds) and all(status == "announced" for status in self.feeds.values())

    @property
    def status(self) -> str:
        """announced | partial | not_yet | failed."""
        values = set(self.feeds.values())
        if values == {"announced"}:
            return "announced"
        if "announced" in values:
            return "partial"
        if "failed" in values:
            return "failed"
        return "not_yet"

    def summary(self) -> str:
        types = ", ".join(f"{n} {kind}" for kind, n in sorted(self.by_type.items())) or "no items"
        counts = f"{len(self.feeds)} feeds; {types}; {self.new_listings} new listings"
        line = f"{self.expected_day}: {self.status} ({counts})"
        if self.skipped:
            reasons = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())
            line += f"; {sum(self.skipped.values())} items skipped ({reasons})"
        if self.errors:
            line += "; errors: " + "; ".join(f"{feed}: {err}" for feed, err in self.errors.items())
        return line


InDb = Callable[..., Awaitable[Any]]


async def ingest_day(
    http: ArxivHttp, store: PaperStore, rss_url: str, feeds: Sequence[str], expected_day: dt.date,
    *, in_db: InDb = asyncio.to_thread,
) -> IngestReport:
    """Fetch each `+`-joined feed once and store what it announces.

    Every store call goes through `in_db` (the bot passes its `in_db_thread`), never on the loop.
    """
    report = IngestReport(expected_day=expected_day)
    for feed in feeds:
        try:
            result = await fetch_feed(http, rss_url, feed, day=expected_day,
                                      skip_day=_announced_in(store, feed, in_db))
        except FeedUnavailable as exc:
            log.warning("feed %s failed: %s", feed, exc)
            report.feeds[feed] = "failed"
            report.errors[feed] = str(exc)
            await in_db(store.record_mailing, expected_day, feed, "failed", error=str(exc)[:500])
            continue
        await in_db(_store_feed, store, report, feed, result)
    if +report.skipped:
        log.warning("ingest %s: items skipped: %s", expected_day, dict(report.skipped))
    report.skipped = +report.skipped  # drop zero counts
    return report


def _store_feed(store: PaperStore, report: IngestReport, feed: str, result: FeedResult) -> None:
    """Store one fetched feed's announcements (or refuse them) and record its mailing in `report`."""
    expected_day = report.expected_day
    report.skipped.update(result.skipped)
    days = {a.day for a in result.announcements}
    feed_day = result.feed_date or (max(days) if days else None)
    refusal = _refusal(feed_day, expected_day) if result.announcements else None
    if refusal:
        log.warning("feed %s refused: %s", feed, refusal)
        report.feeds[feed] = "failed"
        report.errors[feed] = refusal
        report.skipped["feed refused"] += len(result.announcements)
        store.record_mailing(expected_day, feed, "failed", error=refusal[:500])
        return
    taken = [a for a in result.announcements if a.day == feed_day]
    report.skipped["dated another day"] += len(result.announcements) - len(taken)
    if feed_day is not None and feed_day != expected_day \
            and store.announced_days(feed_day - dt.timedelta(days=1), feed_day):
        # Still the previous day's feed, which is stored already: not announced yet, and it may
        # not add to that day (a feed mislabelled with a stored day would, otherwise).
        report.skipped["earlier day, already stored"] += len(taken)
        taken = []
    report.new_listings += store.record_announcements(taken)
    if feed_day is not None and feed_day != expected_day and taken:
        store.record_mailing(feed_day, feed, "announced", items=len(taken))
    if result.announcements and feed_day == expected_day:
        report.feeds[feed] = "announced"
        report.by_type.update(a.announce_type.value for a in taken)
        store.record_mailing(expected_day, feed, "announced", items=len(taken))
    else:
        report.feeds[feed] = "not_yet"
        report.other_days |= {d for d in days if d != expected_day}
        store.record_mailing(expected_day, feed, "empty")


def _announced_in(store: PaperStore, feed: str, in_db: InDb) -> Callable[[dt.date], Awaitable[bool]]:
    """Whether `feed` of a given day is stored as announced already (then its items need no parsing)."""
    async def announced(dated: dt.date) -> bool:
        return bool((await in_db(store.mailing_status, dated)).get(feed) == "announced")
    return announced


def _refusal(feed_day: dt.date | None, expected_day: dt.date) -> str | None:
    """Why a feed with items is refused, or None when it is not.

    Its day must be one arXiv announces on, and the expected day or the announcement day just
    before it (a feed not rebuilt yet); no other day.
    """
    if feed_day is None:
        return "the feed has no date"
    if not is_announcement_day(feed_day):
        return f"the feed is dated {feed_day}, a day arXiv does not announce on"
    if feed_day == expected_day:
        return None
    if feed_day != previous_announcement_day(expected_day):
        return f"the feed is dated {feed_day}, not the expected {expected_day}"
    return None
