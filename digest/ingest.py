"""Ingesting a day's announcements: fetch every feed group, store the papers, remember the outcome.

Three outcomes must never be confused: arXiv announced (items for the expected day), arXiv has not
announced yet (the feed still shows an older day, or is empty on an announcement day, which is how
a late feed looks), and the fetch failed (network, 5xx, a page that is not a feed). Each feed's
outcome is recorded in `mailings`, so `/digest` can tell users which one they are seeing and the
scheduler knows to try again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.arxiv_http import ArxivHttp
from digest.errors import FeedUnavailable
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
        line = f"{self.expected_day}: {self.status} ({len(self.feeds)} feeds; {types}; {self.new_listings} new listings)"
        if self.errors:
            line += "; errors: " + "; ".join(f"{feed}: {err}" for feed, err in self.errors.items())
        return line


async def ingest_day(
    http: ArxivHttp, store: PaperStore, rss_url: str, feeds: Sequence[str], expected_day: dt.date
) -> IngestReport:
    """Fetch each `+`-joined feed once and store what it announces."""
    report = IngestReport(expected_day=expected_day)
    for feed in feeds:
        try:
            result = await fetch_feed(http, rss_url, feed, day=expected_day,
                                      skip_day=lambda dated, feed=feed: store.mailing_status(dated).get(feed) == "announced")
        except FeedUnavailable as exc:
            log.warning("feed %s failed: %s", feed, exc)
            report.feeds[feed] = "failed"
            report.errors[feed] = str(exc)
            store.record_mailing(expected_day, feed, "failed", error=str(exc)[:500])
            continue
        days = {a.day for a in result.announcements}
        report.new_listings += store.record_announcements(result.announcements)
        feed_day = result.feed_date or (max(days) if days else None)
        if result.announcements and feed_day == expected_day:
            report.feeds[feed] = "announced"
            report.by_type.update(a.announce_type.value for a in result.announcements if a.day == expected_day)
            store.record_mailing(expected_day, feed, "announced", items=len(result.announcements))
        else:
            report.feeds[feed] = "not_yet"
            report.other_days |= {d for d in days if d != expected_day}
            store.record_mailing(expected_day, feed, "empty")
    return report
