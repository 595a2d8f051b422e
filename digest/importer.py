"""Bulk import of paper metadata from JSONL files (plain or gzipped), fast enough for 75k papers.

Two formats are understood, line by line:
- the corpus format: `{id, title, abstract, authors[], categories[], primary_category, comment,
  first_seen, seen_dates[]}`; each paper is recorded as announced on `first_seen`;
- the daily-crawl format: `{id, pdf, abs, authors[], title, categories[], comment, summary}`, in a
  file named `<YYYY-MM-DD>.jsonl`; every paper is recorded as announced that day. The crawler
  lists a paper once per category page, so duplicates in a file collapse to one paper.

Rows are written with one multi-row upsert per chunk (SQLite and PostgreSQL both support
`ON CONFLICT`), which is what makes a 75k-paper import take seconds, not minutes.

Every record is cleaned like a feed item (`digest.clean.clean_paper`: control characters out, HTML
to text, titles and abstracts capped, categories unknown to the taxonomy dropped); a record left
without a title or a category is a skipped line.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from digest.clean import clean_paper
from digest.errors import BadInput
from digest.ids import parse_id
from digest.models import AnnounceType, Paper
from digest.schema import AnnouncementRow, PaperRow, utcnow

log = logging.getLogger(__name__)

CHUNK = 1000
_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass
class ImportReport:
    lines: int = 0
    papers: int = 0
    announcements: int = 0
    skipped: int = 0


def _open(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        yield from handle


def _date(value: object) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def paper_from_record(record: dict) -> Paper:
    """A Paper from one JSON record of either format; raises ValueError/BadInput on junk."""
    paper_id, version = parse_id(str(record["id"]))
    categories = tuple(record.get("categories") or ())
    primary = record.get("primary_category") or (categories[0] if categories else None)
    if primary and primary not in categories:
        categories = (primary, *categories)
    paper = clean_paper(Paper(
        id=paper_id,
        version=version or 1,
        title=str(record.get("title") or ""),
        authors=tuple(str(a) for a in record.get("authors") or ()),
        abstract=str(record.get("abstract") or record.get("summary") or ""),
        categories=tuple(str(c) for c in categories),
        primary_category=primary,
        comment=_text_or_none(record.get("comment")),
        doi=_text_or_none(record.get("doi")),
        journal_ref=_text_or_none(record.get("journal_ref")),
        published=_date(record.get("first_seen") or record.get("published")),
    ))
    if not paper.title:
        raise ValueError("no title")
    if not paper.categories:
        raise ValueError("no category arXiv's taxonomy knows")
    return paper


def _text_or_none(value: object) -> str | None:
    return str(value) if value else None


def read_records(path: Path) -> Iterator[tuple[Paper, dt.date | None] | None]:
    """(paper, announcement day) for each line; None for a line that cannot be read."""
    name_day = _date(m.group(1)) if (m := _DAY_IN_NAME.search(path.name)) else None
    for line in _open(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            paper = paper_from_record(record)
        except (ValueError, KeyError, TypeError, BadInput) as exc:
            log.debug("skipping a line of %s: %s", path, exc)
            yield None
            continue
        yield paper, _date(record.get("first_seen")) or name_day


def _paper_values(paper: Paper) -> dict:
    return {
        "id": paper.id, "version": paper.version, "title": paper.title, "authors": list(paper.authors),
        "abstract": paper.abstract, "categories": list(paper.categories), "primary_category": paper.primary,
        "doi": paper.doi, "journal_ref": paper.journal_ref, "license": paper.license, "comment": paper.comment,
        "published": paper.published, "updated_at": utcnow(),
    }


def _insert(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise BadInput(f"importing needs SQLite or PostgreSQL, not {dialect}")


def _write_chunk(session: Session, papers: dict[str, Paper], days: dict[str, dt.date]) -> int:
    """One upsert statement compiled once and run for the whole chunk (an executemany)."""
    insert = _insert(session)
    connection = session.connection()
    stmt = insert(PaperRow)
    updatable = ["version", "title", "authors", "abstract", "categories", "primary_category", "comment",
                 "updated_at"]
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c: stmt.excluded[c] for c in updatable},
        where=PaperRow.version <= stmt.excluded.version,
    )
    connection.execute(stmt, [_paper_values(p) for p in papers.values()])
    if not days:
        return 0
    announcements = [{"day": day, "paper_id": pid, "announce_type": AnnounceType.NEW.value,
                      "version": papers[pid].version} for pid, day in days.items()]
    added = insert(AnnouncementRow).on_conflict_do_nothing(index_elements=["day", "paper_id"])
    result = connection.execute(added.returning(AnnouncementRow.id), announcements)
    return len(result.all())  # rowcount is -1 for multi-row inserts on some drivers


def import_jsonl(
    paths: Iterable[Path],
    sessions: sessionmaker[Session],
    *,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every file; `progress(n)` is called with the number of lines read since the last call."""
    report = ImportReport()
    for path in paths:
        papers: dict[str, Paper] = {}
        days: dict[str, dt.date] = {}
        for item in read_records(Path(path)):
            report.lines += 1
            if progress:
                progress(1)
            if item is None:
                report.skipped += 1
                continue
            paper, day = item
            kept = papers.get(paper.id)
            if kept is None or paper.version >= kept.version:
                papers[paper.id] = paper
            if day is not None:
                days.setdefault(paper.id, day)
            if len(papers) >= CHUNK:
                report.papers += len(papers)
                report.announcements += _flush(sessions, papers, days)
                papers, days = {}, {}
        if papers:
            report.papers += len(papers)
            report.announcements += _flush(sessions, papers, days)
    return report


def _flush(sessions: sessionmaker[Session], papers: dict[str, Paper], days: dict[str, dt.date]) -> int:
    with sessions.begin() as session:
        return _write_chunk(session, papers, days)
