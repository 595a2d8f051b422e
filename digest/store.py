"""The paper store: papers and the days they were announced, read and written in bulk.

Writes are upserts keyed by the versionless id, so ingesting the same feed twice, or the same paper
from three category feeds, leaves one row. Calls are synchronous and short; the bot runs the big
ones (ingest, digest building for every chat) in a worker thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from digest.clean import MAX_ABSTRACT_CHARS, MAX_TITLE_CHARS
from digest.models import ANNOUNCE_STRENGTH, Announcement, AnnounceType, Paper
from digest.schema import AnnouncementRow, MailingRow, PaperRow, as_stored, utcnow

_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


def paper_from_row(row: PaperRow) -> Paper:
    """A stored paper; title and abstract capped again, for rows stored before the caps existed."""
    return Paper(
        id=row.id,
        title=row.title[:MAX_TITLE_CHARS],
        authors=tuple(row.authors or ()),
        abstract=(row.abstract or "")[:MAX_ABSTRACT_CHARS],
        categories=tuple(row.categories or ()),
        version=row.version,
        primary_category=row.primary_category,
        doi=row.doi,
        journal_ref=row.journal_ref,
        license=row.license,
        comment=row.comment,
        published=row.published,
    )


def _row_values(paper: Paper) -> dict:
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "categories": list(paper.categories),
        "primary_category": paper.primary,
        "doi": paper.doi,
        "journal_ref": paper.journal_ref,
        "license": paper.license,
        "comment": paper.comment,
        "published": paper.published,
        "updated_at": utcnow(),
    }


# What a feed says about the first version's date is an estimate: it fills a gap, never overwrites.
_ESTIMATED_FROM_FEEDS = frozenset({"published"})


def _merge(old: PaperRow, new: Paper, fill_only: frozenset[str] = frozenset()) -> None:
    """Update a stored paper with fresher metadata; an older version never overwrites a newer one."""
    if new.version < old.version:
        return
    values = _row_values(new)
    for key, value in values.items():
        if key == "id" or (key in fill_only and getattr(old, key) is not None):
            continue
        if value in (None, "", []) and getattr(old, key) not in (None, "", []):
            continue  # keep what we knew (e.g. a DOI the feed does not repeat)
        setattr(old, key, value)


class PaperStore:
    """Read and write papers, announcements and mailing status."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], dt.datetime] | None = None) -> None:
        self.sessions = sessions
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def now(self) -> dt.datetime:
        """The store's clock as naive UTC, the way times are stored."""
        return as_stored(self.clock())

    # --- papers --------------------------------------------------------------------------

    def upsert_papers(self, papers: Iterable[Paper]) -> int:
        """Insert or refresh papers; returns how many distinct ids were written."""
        by_id: dict[str, Paper] = {}
        for paper in papers:
            kept = by_id.get(paper.id)
            if kept is None or paper.version >= kept.version:
                by_id[paper.id] = paper
        with self.sessions.begin() as session:
            self._upsert(session, by_id)
        return len(by_id)

    def _upsert(self, session: Session, by_id: dict[str, Paper], fill_only: frozenset[str] = frozenset()) -> None:
        ids = list(by_id)
        existing: dict[str, PaperRow] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk))):
                existing[row.id] = row
        for paper_id, paper in by_id.items():
            row = existing.get(paper_id)
            if row is None:
                session.add(PaperRow(**_row_values(paper)))
            else:
                _merge(row, paper, fill_only)

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.sessions() as session:
            row = session.get(PaperRow, paper_id)
            return paper_from_row(row) if row else None

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        """The stored papers among `ids` (missing ids are simply absent)."""
        found: dict[str, Paper] = {}
        with self.sessions() as session:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                for row in session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk))):
                    found[row.id] = paper_from_row(row)
        return found

    def count_papers(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(PaperRow)) or 0

    # --- announcements -------------------------------------------------------------------

    def record_announcements(self, announcements: Iterable[Announcement]) -> int:
        """Store papers and their listing for the day; one row per (day, paper), strongest type wins.

        Returns the number of (day, paper) listings that are new to the store.
        """
        items = list(announcements)
        strongest: dict[tuple[dt.date, str], Announcement] = {}
        for ann in items:
            key = (ann.day, ann.paper.id)
            kept = strongest.get(key)
            if kept is None or ANNOUNCE_STRENGTH[ann.announce_type] > ANNOUNCE_STRENGTH[kept.announce_type]:
                strongest[key] = ann
        added = 0
        with self.sessions.begin() as session:
            self._upsert(session, {a.paper.id: a.paper for a in sorted(items, key=lambda a: a.paper.version)},
                         fill_only=_ESTIMATED_FROM_FEEDS)
            session.flush()
            days = {day for day, _ in strongest}
            existing = {
                (row.day, row.paper_id): row
                for row in session.scalars(select(AnnouncementRow).where(AnnouncementRow.day.in_(days)))
            }
            for (day, paper_id), ann in strongest.items():
                row = existing.get((day, paper_id))
                if row is None:
                    session.add(AnnouncementRow(day=day, paper_id=paper_id, announce_type=ann.announce_type.value,
                                                version=ann.paper.version))
                    added += 1
                elif ANNOUNCE_STRENGTH[ann.announce_type] > ANNOUNCE_STRENGTH[AnnounceType(row.announce_type)]:
                    row.announce_type = ann.announce_type.value
        return added

    def announced_on(self, day: dt.date) -> list[tuple[Paper, AnnounceType]]:
        """Every paper listed on `day`, with how it was listed."""
        with self.sessions() as session:
            rows = session.execute(
                select(PaperRow, AnnouncementRow.announce_type)
                .join(AnnouncementRow, AnnouncementRow.paper_id == PaperRow.id)
                .where(AnnouncementRow.day == day)
                .order_by(AnnouncementRow.id)
            ).all()
            return [(paper_from_row(row), AnnounceType(kind)) for row, kind in rows]

    def announced_days(self, after: dt.date, upto: dt.date) -> list[dt.date]:
        """Stored announcement days in (after, upto], oldest first."""
        with self.sessions() as session:
            days = session.scalars(select(AnnouncementRow.day).where(AnnouncementRow.day > after,
                                                                      AnnouncementRow.day <= upto).distinct())
            return sorted(days)

    def announced_over(self, days: Sequence[dt.date]) -> list[tuple[Paper, AnnounceType]]:
        """The papers of several days, each once: its newest metadata, its strongest listing."""
        merged: dict[str, tuple[Paper, AnnounceType]] = {}
        for day in sorted(days):
            for paper, kind in self.announced_on(day):
                if paper.id in merged:
                    kept_kind = merged[paper.id][1]
                    kind = kept_kind if ANNOUNCE_STRENGTH[kept_kind] >= ANNOUNCE_STRENGTH[kind] else kind
                merged[paper.id] = (paper, kind)
        return list(merged.values())

    def announced_days_of(self, paper_ids: Sequence[str]) -> dict[str, dt.date]:
        """The latest day each paper was announced (cards show it), for those the store saw in a mailing."""
        with self.sessions() as session:
            rows = session.execute(
                select(AnnouncementRow.paper_id, func.max(AnnouncementRow.day))
                .where(AnnouncementRow.paper_id.in_(list(paper_ids)))
                .group_by(AnnouncementRow.paper_id)
            )
            return {paper_id: day for paper_id, day in rows}

    def latest_announced_day(self, on_or_before: dt.date | None = None) -> dt.date | None:
        with self.sessions() as session:
            query = select(func.max(AnnouncementRow.day))
            if on_or_before is not None:
                query = query.where(AnnouncementRow.day <= on_or_before)
            return session.scalar(query)

    def count_by_type(self, day: dt.date) -> dict[str, int]:
        with self.sessions() as session:
            rows = session.execute(
                select(AnnouncementRow.announce_type, func.count())
                .where(AnnouncementRow.day == day)
                .group_by(AnnouncementRow.announce_type)
            ).all()
            return {kind: n for kind, n in rows}

    # --- mailings (what we know of a day's feeds) ----------------------------------------

    def record_mailing(self, day: dt.date, feed: str, status: str, items: int = 0, error: str | None = None) -> None:
        """Remember that `feed` for `day` was announced / empty / failed; a later success overwrites a failure."""
        with self.sessions.begin() as session:
            row = session.scalar(select(MailingRow).where(MailingRow.day == day, MailingRow.feed == feed))
            if row is None:
                session.add(MailingRow(day=day, feed=feed, status=status, items=items, error=error,
                                       fetched_at=self.now()))
            elif not (row.status == "announced" and status != "announced"):
                row.status, row.items, row.error, row.fetched_at = status, items, error, self.now()

    def mailing_status(self, day: dt.date) -> dict[str, str]:
        """feed -> status for `day`."""
        with self.sessions() as session:
            rows = session.scalars(select(MailingRow).where(MailingRow.day == day))
            return {row.feed: row.status for row in rows}

