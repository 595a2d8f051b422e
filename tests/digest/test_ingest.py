"""Ingesting a day: announced, not yet announced and failed are told apart and remembered.

The hand-written feeds go through the real httpx + feedparser code against the fake arXiv; the
shared-data test ingests every rendered real day and checks the store against counts taken from
the XML with plain regexes, independently of the parser.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from digest.db import make_sessionmaker
from digest.ingest import ingest_day
from digest.store import PaperStore
from tests.fakes.fake_arxiv import Reply, rss_feed, rss_item

TUE = dt.date(2026, 6, 16)
TUE_PUB = "Tue, 16 Jun 2026 00:00:00 -0400"
MON_PUB = "Mon, 15 Jun 2026 00:00:00 -0400"


@pytest.fixture
def store(engine) -> PaperStore:
    return PaperStore(make_sessionmaker(engine))


def day_feed(cats: str, pub: str = TUE_PUB, n: int = 3, start: int = 1) -> bytes:
    items = [rss_item(f"2606.{start + i:05d}", f"Paper {start + i}", categories=(cats.split("+")[0],), pub_date=pub)
             for i in range(n)]
    return rss_feed(cats, items, pub_date=pub)


async def test_a_feed_dated_the_expected_day_is_announced_and_stored(fake_arxiv, arxiv_http, arxiv_settings, store):
    fake_arxiv.rss["cs.CL"] = day_feed("cs.CL", n=3)
    report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], TUE)
    assert report.feeds == {"cs.CL": "announced"} and report.status == "announced" and report.complete
    assert report.new_listings == 3 and report.by_type == Counter({"new": 3})
    assert store.mailing_status(TUE) == {"cs.CL": "announced"}
    assert len(store.announced_on(TUE)) == 3


@pytest.mark.parametrize(
    "feed",
    [
        pytest.param(day_feed("cs.CL", pub=MON_PUB, n=2), id="feed-still-dated-the-previous-day"),
        pytest.param(rss_feed("cs.CL", [], pub_date=TUE_PUB), id="empty-feed-on-an-announcement-day"),
    ],
)
async def test_a_stale_or_empty_feed_is_not_yet_announced(fake_arxiv, arxiv_http, arxiv_settings, store, feed):
    fake_arxiv.rss["cs.CL"] = feed
    report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], TUE)
    assert report.feeds == {"cs.CL": "not_yet"} and report.status == "not_yet"
    assert not report.errors
    assert store.mailing_status(TUE) == {"cs.CL": "empty"}
    assert store.announced_on(TUE) == []


async def test_a_stale_feed_reports_the_older_day_it_still_lists(fake_arxiv, arxiv_http, arxiv_settings, store):
    fake_arxiv.rss["cs.CL"] = day_feed("cs.CL", pub=MON_PUB, n=2)
    report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], TUE)
    assert report.other_days == {dt.date(2026, 6, 15)}
    assert len(store.announced_on(dt.date(2026, 6, 15))) == 2


@pytest.mark.parametrize(
    "replies",
    [
        pytest.param([Reply(503, b"Service Unavailable")] * 5, id="503s"),
        pytest.param([Reply.html_error()] * 5, id="html-error-page"),
        pytest.param([Reply(200, day_feed("cs.CL")[:400], content_type="application/rss+xml")] * 5, id="truncated"),
    ],
)
async def test_a_broken_fetch_is_failed_never_not_yet(fake_arxiv, arxiv_http, arxiv_settings, store, replies):
    fake_arxiv.script("/rss/cs.CL", *replies)
    report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], TUE)
    assert report.feeds == {"cs.CL": "failed"} and report.status == "failed"
    assert "cs.CL" in report.errors
    assert store.mailing_status(TUE) == {"cs.CL": "failed"}
    assert store.announced_on(TUE) == []


async def test_a_success_after_a_failure_overwrites_it(fake_arxiv, arxiv_http, arxiv_settings, store):
    fake_arxiv.script("/rss/cs.CL", *[Reply(503)] * 5)
    fake_arxiv.rss["cs.CL"] = day_feed("cs.CL", n=2)
    first = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], TUE)
    assert first.status == "failed"
    second = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], TUE)
    assert second.status == "announced"
    assert store.mailing_status(TUE) == {"cs.CL": "announced"}


async def test_one_failed_group_does_not_hide_the_others(fake_arxiv, arxiv_http, arxiv_settings, store):
    fake_arxiv.rss["cs.CL"] = day_feed("cs.CL", n=2)
    fake_arxiv.script("/rss/cs.CV", *[Reply(503)] * 5)
    report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL", "cs.CV"], TUE)
    assert report.feeds == {"cs.CL": "announced", "cs.CV": "failed"}
    assert report.status == "partial" and not report.complete
    assert store.mailing_status(TUE) == {"cs.CL": "announced", "cs.CV": "failed"}


async def test_the_same_paper_in_two_feeds_is_one_listing_with_its_strongest_type(fake_arxiv, arxiv_http, arxiv_settings, store):
    both = rss_item("2606.30001", "Shared", announce_type="new", categories=("cs.CL", "cs.AI"), pub_date=TUE_PUB)
    cross = rss_item("2606.30001", "Shared", announce_type="cross", categories=("cs.CL", "cs.AI"), pub_date=TUE_PUB)
    fake_arxiv.rss["cs.AI"] = rss_feed("cs.AI", [cross], pub_date=TUE_PUB)
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [both], pub_date=TUE_PUB)
    report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.AI", "cs.CL"], TUE)
    assert report.new_listings == 1
    assert [(p.id, k.value) for p, k in store.announced_on(TUE)] == [("2606.30001", "new")]
    assert store.count_papers() == 1


# --- every real rendered day ------------------------------------------------------------------

_ITEM = re.compile(r"<item>")
_TYPE = re.compile(r"Announce Type:\s*([a-z-]+)")
_NAME = re.compile(r"^rss_(?P<cats>.+)_(?P<day>\d{4}-\d{2}-\d{2})\.xml$")
RENDERED_DAYS = ["2026-06-15", "2026-06-16", "2026-06-17", "2026-06-18", "2026-06-19",
                 "2026-06-23", "2026-06-24", "2026-06-25", "2026-06-26"]


def xml_counts(path: Path) -> tuple[int, Counter]:
    body = path.read_text(encoding="utf-8")
    return len(_ITEM.findall(body)), Counter(_TYPE.findall(body))


@pytest.mark.parametrize("day", RENDERED_DAYS)
async def test_every_rendered_real_feed_ingests_to_exactly_its_items_by_type(
    shared_data, fake_arxiv, arxiv_http, arxiv_settings, store, day
):
    files = sorted((shared_data / "rss" / "rendered").glob(f"rss_*_{day}.xml"), key=lambda p: -len(p.name))
    assert len(files) == 4, files
    combined_total = None
    statuses: dict[str, str] = {}
    for path in files:  # the combined feed (longest name) first, then each category alone
        cats = _NAME.match(path.name)["cats"]
        items, by_type = xml_counts(path)
        assert items == sum(by_type.values())
        fake_arxiv.rss[cats] = path.read_bytes()
        report = await ingest_day(arxiv_http, store, arxiv_settings.rss_url, [cats], dt.date.fromisoformat(day))
        # 06-25 was a partial crawl: its cs.CL feed is empty, which reads as "not announced yet"
        statuses[cats] = "announced" if items else "empty"
        assert report.feeds == {cats: "announced" if items else "not_yet"}, report.summary()
        assert report.by_type == by_type, path.name
        if combined_total is None:
            combined_total = (items, by_type)
            assert report.new_listings == items
            assert store.count_by_type(dt.date.fromisoformat(day)) == dict(by_type)
        else:
            # the single-category feeds list a subset of the combined one: nothing new, no type weakened
            assert report.new_listings == 0, path.name
    assert store.count_by_type(dt.date.fromisoformat(day)) == dict(combined_total[1])
    assert store.count_papers() == combined_total[0]
    assert store.mailing_status(dt.date.fromisoformat(day)) == statuses
