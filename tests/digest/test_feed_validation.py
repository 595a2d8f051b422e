"""Feeds and API answers cannot lie their way into the store (issue 10, problem 7): mutated feeds.

Each case is one that was found by feeding the ingester mutated feeds and API answers; each goes
through the real httpx + feedparser code against the fake arXiv.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from digest.arxiv_api import fetch_by_ids
from digest.db import make_sessionmaker
from digest.importer import import_jsonl
from digest.ingest import ingest_day
from digest.models import Paper
from digest.store import PaperStore
from tests.fakes.fake_arxiv import Reply, atom_entry, atom_feed, rss_feed, rss_item

MON, TUE = dt.date(2026, 6, 15), dt.date(2026, 6, 16)
MON_PUB = "Mon, 15 Jun 2026 00:00:00 -0400"
TUE_PUB = "Tue, 16 Jun 2026 00:00:00 -0400"


@pytest.fixture
def store(engine) -> PaperStore:
    return PaperStore(make_sessionmaker(engine))


def items(n: int, *, start: int = 1, pub: str = TUE_PUB, **kwargs) -> list[str]:
    return [rss_item(f"2606.{start + i:05d}", f"Paper {start + i}", categories=("cs.CL",), pub_date=pub, **kwargs)
            for i in range(n)]


async def ingest(fake_arxiv, arxiv_http, arxiv_settings, store, feed: bytes, day=TUE):
    fake_arxiv.rss["cs.CL"] = feed
    return await ingest_day(arxiv_http, store, arxiv_settings.rss_url, ["cs.CL"], day)


async def test_items_of_an_unknown_announce_type_are_skipped_counted_and_reported(fake_arxiv, arxiv_http, arxiv_settings, store):
    # The case that found it: 141 of 160 items dropped while the feed was reported "announced".
    feed = rss_feed("cs.CL", items(19) + items(141, start=100, announce_type="withdrawn"), pub_date=TUE_PUB)
    report = await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, feed)
    assert report.status == "announced" and report.new_listings == 19
    assert report.skipped == {"unknown announce type": 141}
    assert "141 items skipped (141 unknown announce type)" in report.summary()


async def test_a_feed_of_another_day_never_changes_a_stored_day(fake_arxiv, arxiv_http, arxiv_settings, store):
    # The case that found it: a 06-16 feed labelled 06-15 added its papers to the stored 06-15 (55 -> 215).
    await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, rss_feed("cs.CL", items(55, pub=MON_PUB), pub_date=MON_PUB), MON)
    assert len(store.announced_on(MON)) == 55
    relabelled = rss_feed("cs.CL", items(160, start=1000, pub=MON_PUB), pub_date=MON_PUB)
    report = await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, relabelled, TUE)
    assert report.status == "not_yet"  # to us it looks like Monday's feed, not rebuilt yet
    assert report.skipped == {"earlier day, already stored": 160}
    assert len(store.announced_on(MON)) == 55 and store.announced_on(TUE) == []
    assert store.count_papers() == 55


@pytest.mark.parametrize("pub", [
    "Tue, 01 Jan 2030 00:00:00 -0500",  # the case that found it: day 2029-12-31 created
    "Mon, 01 Jan 2001 00:00:00 -0500",  # and 2000-12-31
    "Sat, 20 Jun 2026 00:00:00 -0400",  # arXiv never announces on a Saturday
    "Wed, 17 Jun 2026 00:00:00 -0400",  # tomorrow's date, on today's expected day
])
async def test_a_feed_dated_a_day_that_cannot_be_or_is_not_expected_is_refused(fake_arxiv, arxiv_http, arxiv_settings, store, pub, caplog):
    report = await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, rss_feed("cs.CL", items(3, pub=pub), pub_date=pub))
    assert report.feeds == {"cs.CL": "failed"} and "dated" in report.errors["cs.CL"]
    assert store.count_papers() == 0 and store.latest_announced_day() is None
    assert any("refused" in r.getMessage() for r in caplog.records)


async def test_a_stale_feed_may_still_fill_an_earlier_day_nothing_was_stored_for(fake_arxiv, arxiv_http, arxiv_settings, store):
    report = await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, rss_feed("cs.CL", items(2, pub=MON_PUB), pub_date=MON_PUB))
    assert report.status == "not_yet"
    assert len(store.announced_on(MON)) == 2


async def test_categories_outside_the_taxonomy_are_dropped_and_a_paper_without_any_is_refused(fake_arxiv, arxiv_http, arxiv_settings, store):
    # The case that found it: `<script>zz.ZZ'; DROP TABLE papers;--` was stored as a category.
    evil = "&lt;script&gt;zz.ZZ'; DROP TABLE papers;--"
    mixed = rss_item("2606.00001", "Mixed", categories=("cs.CL", evil, "zz.ZZ"), pub_date=TUE_PUB)
    only_evil = rss_item("2606.00002", "Evil", categories=(evil,), pub_date=TUE_PUB)
    report = await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, rss_feed("cs.CL", [mixed, only_evil], pub_date=TUE_PUB))
    assert report.status == "announced" and report.skipped == {"unknown categories": 1}
    assert store.get_paper("2606.00001").categories == ("cs.CL",)
    assert store.get_paper("2606.00002") is None


async def test_html_in_titles_and_abstracts_becomes_text(fake_arxiv, arxiv_http, arxiv_settings, store):
    item = rss_item("2606.00001", "<b>Bold</b> claims about <a href=\"https://evil.example\">H<sub>2</sub>O</a> &amp; $a<b$",
                    categories=("cs.CL",), abstract="<script>alert(1)</script><p>We show <i>x</i>.</p>", pub_date=TUE_PUB)
    await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, rss_feed("cs.CL", [item], pub_date=TUE_PUB))
    paper = store.get_paper("2606.00001")
    assert paper.title == "Bold claims about H2O & $a<b$"
    assert paper.abstract == "We show x."


async def test_each_item_of_a_well_formed_feed_is_taken_or_refused_on_its_own(fake_arxiv, arxiv_http, arxiv_settings, store):
    broken = [
        rss_item("not-an-id", "No id", categories=("cs.CL",), pub_date=TUE_PUB),
        rss_item("2606.00090", "   ", categories=("cs.CL",), pub_date=TUE_PUB),
        rss_item("2606.00091", "No category", categories=(), pub_date=TUE_PUB),
    ]
    huge = rss_item("2606.00092", "T" * 1_000_000, categories=("cs.CL",), abstract="A" * 1_000_000, pub_date=TUE_PUB)
    feed = rss_feed("cs.CL", items(2) + broken + [huge], pub_date=TUE_PUB)
    report = await ingest(fake_arxiv, arxiv_http, arxiv_settings, store, feed)
    assert report.status == "announced" and report.new_listings == 3
    assert sum(report.skipped.values()) == 3
    kept = store.get_paper("2606.00092")
    assert len(kept.title) <= 1_000 and len(kept.abstract) <= 10_000


async def test_an_api_answer_updates_only_the_papers_asked_for(fake_arxiv, arxiv_http, arxiv_settings, store):
    # The case that found it: an unrequested extra entry overwrote a stored paper's title.
    store.upsert_papers([Paper(id="2401.99999", title="The real title", authors=("A",), abstract="",
                               categories=("cs.CL",), version=1)])
    answer = atom_feed([atom_entry("2401.00001", "Asked for", categories=("cs.CL",)),
                        atom_entry("2401.99999", "Hijacked title", version=9, categories=("cs.CL",))])
    fake_arxiv.script("/api/query", Reply(200, answer, content_type="application/atom+xml"))
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001"])
    assert list(papers) == ["2401.00001"]
    store.upsert_papers(papers.values())
    assert store.get_paper("2401.99999").title == "The real title"


async def test_api_entries_are_cleaned_and_checked_against_the_taxonomy(fake_arxiv, arxiv_http, arxiv_settings):
    answer = atom_feed([atom_entry("2401.00001", "<i>Tagged</i> title", categories=("cs.CL", "zz.ZZ")),
                        atom_entry("2401.00002", "Nowhere", categories=("zz.ZZ",))])
    fake_arxiv.script("/api/query", Reply(200, answer, content_type="application/atom+xml"))
    papers = await fetch_by_ids(arxiv_http, arxiv_settings.api_url, ["2401.00001", "2401.00002"])
    assert list(papers) == ["2401.00001"]
    assert papers["2401.00001"].title == "Tagged title" and papers["2401.00001"].categories == ("cs.CL",)


def test_imports_lose_nul_bytes_lone_surrogates_and_control_characters(engine, tmp_path):
    lines = [
        {"id": "2606.00001", "title": "Nul\u0000 and \ud800surrogate\u001b[31m", "abstract": "a\u0000b",
         "authors": ["Ada\u0000 Lovelace"], "categories": ["cs.CL", "zz.ZZ"], "first_seen": "2026-06-16"},
        {"id": "2606.00002", "title": "No known category", "categories": ["zz.ZZ"], "first_seen": "2026-06-16"},
    ]
    path = tmp_path / "dirty.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")  # json escapes keep the NUL and the lone surrogate
    report = import_jsonl([path], make_sessionmaker(engine))
    assert report.papers == 1 and report.skipped == 1
    paper = PaperStore(make_sessionmaker(engine)).get_paper("2606.00001")
    assert paper.title == "Nul and surrogate[31m" and paper.abstract == "ab"
    assert paper.authors == ("Ada Lovelace",) and paper.categories == ("cs.CL",)
