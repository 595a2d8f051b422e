"""The paper store: one row per versionless id, newest version wins, one listing per (day, paper)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from digest.db import make_sessionmaker
from digest.models import Announcement, AnnounceType, Paper
from digest.schema import AnnouncementRow, PaperRow
from digest.store import PaperStore

DAY = dt.date(2026, 6, 16)


def paper(paper_id: str = "2606.10001", version: int = 1, title: str | None = None, **extra) -> Paper:
    return Paper(
        id=paper_id,
        title=title or f"Title of {paper_id} v{version}",
        authors=("Ada Lovelace",),
        abstract=f"Abstract v{version}",
        categories=extra.pop("categories", ("cs.CL",)),
        version=version,
        **extra,
    )


@pytest.fixture
def store(engine) -> PaperStore:
    return PaperStore(make_sessionmaker(engine))


def rows(store: PaperStore, model) -> int:  # type: ignore[no-untyped-def]
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_upserting_the_same_paper_twice_keeps_one_row(store):
    store.upsert_papers([paper()])
    store.upsert_papers([paper()])
    assert store.count_papers() == 1


def test_versions_of_one_paper_share_a_row_and_the_newest_wins(store):
    store.upsert_papers([paper(version=1), paper(version=3), paper(version=2)])
    stored = store.get_paper("2606.10001")
    assert store.count_papers() == 1
    assert stored is not None and stored.version == 3 and stored.abstract == "Abstract v3"


@pytest.mark.parametrize("order", [(1, 2), (2, 1)], ids=["older-first", "newer-first"])
def test_across_calls_an_older_version_never_overwrites_a_newer_one(store, order):
    for version in order:
        store.upsert_papers([paper(version=version)])
    stored = store.get_paper("2606.10001")
    assert stored.version == 2 and stored.title == "Title of 2606.10001 v2"


def test_a_refresh_without_a_doi_keeps_the_doi_already_known(store):
    store.upsert_papers([paper(doi="10.1000/xyz")])
    store.upsert_papers([paper(version=2)])
    assert store.get_paper("2606.10001").doi == "10.1000/xyz"


def test_get_papers_returns_only_what_is_stored(store):
    store.upsert_papers([paper("2606.00001"), paper("2606.00002")])
    found = store.get_papers(["2606.00001", "2606.99999"])
    assert set(found) == {"2606.00001"}
    assert store.get_paper("2606.99999") is None


def test_get_papers_handles_more_ids_than_one_query_chunk(store):
    ids = [f"2606.{i:05d}" for i in range(1, 1201)]
    store.upsert_papers(paper(i) for i in ids)
    assert len(store.get_papers(ids)) == 1200


# --- announcements --------------------------------------------------------------------------


def ann(p: Paper, kind: AnnounceType, day: dt.date = DAY) -> Announcement:
    return Announcement(paper=p, day=day, announce_type=kind)


@pytest.mark.parametrize(
    ("first", "second", "strongest"),
    [
        (AnnounceType.NEW, AnnounceType.CROSS, AnnounceType.NEW),
        (AnnounceType.CROSS, AnnounceType.NEW, AnnounceType.NEW),
        (AnnounceType.REPLACE_CROSS, AnnounceType.REPLACE, AnnounceType.REPLACE),
        (AnnounceType.CROSS, AnnounceType.REPLACE, AnnounceType.CROSS),
    ],
)
def test_a_paper_in_two_feeds_of_one_day_is_one_announcement_of_the_strongest_type(store, first, second, strongest):
    p = paper(categories=("cs.CL", "cs.AI"))
    added = store.record_announcements([ann(p, first), ann(p, second)])
    assert added == 1
    assert store.announced_on(DAY) == [(store.get_paper(p.id), strongest)]
    assert rows(store, AnnouncementRow) == 1


@pytest.mark.parametrize(("first", "second"), [(AnnounceType.CROSS, AnnounceType.NEW), (AnnounceType.NEW, AnnounceType.CROSS)])
def test_feeds_ingested_in_separate_runs_still_give_one_announcement_of_the_strongest_type(store, first, second):
    p = paper(categories=("cs.CL", "cs.AI"))
    assert store.record_announcements([ann(p, first)]) == 1
    assert store.record_announcements([ann(p, second)]) == 0
    [(_, kind)] = store.announced_on(DAY)
    assert kind is AnnounceType.NEW


def test_recording_the_same_feed_twice_adds_nothing(store):
    items = [ann(paper(f"2606.0000{i}"), AnnounceType.NEW) for i in range(1, 4)]
    assert store.record_announcements(items) == 3
    assert store.record_announcements(items) == 0
    assert rows(store, AnnouncementRow) == 3 and rows(store, PaperRow) == 3


def test_a_replacement_on_a_later_day_updates_the_paper_and_is_listed_that_day(store):
    store.record_announcements([ann(paper(version=1), AnnounceType.NEW, DAY)])
    later = DAY + dt.timedelta(days=7)
    store.record_announcements([ann(paper(version=2), AnnounceType.REPLACE, later)])
    assert store.count_papers() == 1
    assert store.get_paper("2606.10001").version == 2
    assert [k for _, k in store.announced_on(DAY)] == [AnnounceType.NEW]
    assert [k for _, k in store.announced_on(later)] == [AnnounceType.REPLACE]
    assert store.latest_announced_day() == later
    assert store.latest_announced_day(on_or_before=later - dt.timedelta(days=1)) == DAY


def test_an_old_replacement_listing_does_not_roll_back_a_newer_version(store):
    store.record_announcements([ann(paper(version=3), AnnounceType.REPLACE, DAY)])
    store.record_announcements([ann(paper(version=2), AnnounceType.REPLACE, DAY - dt.timedelta(days=1))])
    assert store.get_paper("2606.10001").version == 3


def test_count_by_type_counts_one_listing_per_paper(store):
    store.record_announcements([
        ann(paper("2606.00001"), AnnounceType.NEW),
        ann(paper("2606.00001"), AnnounceType.CROSS),
        ann(paper("2606.00002"), AnnounceType.CROSS),
        ann(paper("2606.00003", version=2), AnnounceType.REPLACE),
    ])
    assert store.count_by_type(DAY) == {"new": 1, "cross": 1, "replace": 1}


# --- mailings ---------------------------------------------------------------------------------


def test_a_later_success_overwrites_a_failed_mailing_but_not_the_reverse(store):
    store.record_mailing(DAY, "cs.CL", "failed", error="HTTP 503")
    assert store.mailing_status(DAY) == {"cs.CL": "failed"}
    store.record_mailing(DAY, "cs.CL", "announced", items=12)
    store.record_mailing(DAY, "cs.CL", "failed", error="HTTP 503")
    assert store.mailing_status(DAY) == {"cs.CL": "announced"}
    assert store.mailing_status(DAY + dt.timedelta(days=1)) == {}
