"""Writing imported papers: one transaction per chunk, from a writer thread, search index included.

Why a thread: parsing and validating a line is Python (it holds the GIL), while storing it is
mostly the database's own work: SQLite tokenises and stems the text for its FTS5 index in C with
the GIL released, PostgreSQL computes its tsvectors in the server process. So `ChunkWriter` stores
chunk N while the importer reads chunk N+1, and on two cores the two halves overlap instead of
adding up (`bench/bench_scale.py` measures it; figures in the README's "Scale").

Why it stays consistent: every chunk is one transaction holding its papers, their announcements
and their search index entries. A crash or Ctrl-C at any moment leaves the store as it was after
the last whole chunk, searchable and with its triggers in place; importing the file again finishes
the job (every write is an upsert).

On SQLite the chunk goes through the DB-API directly (`executemany` of one prepared upsert, no ORM
layer per row), and the papers that are new to the store are indexed by one set-based insert into
FTS5 instead of one trigger run each (see `digest.search.sqlite_bulk_index`), which halves the
cost of indexing. On PostgreSQL the rows go through SQLAlchemy (`write_papers`, the same upsert
the OAI-PMH backfill uses) with the per-row search trigger switched off for the transaction, and
one set-based insert indexes the chunk in the server (`digest.search.postgres_bulk_index`).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import BadInput
from digest.models import AnnounceType, Paper
from digest.schema import AnnouncementRow, PaperRow, utcnow
from digest.search import (
    postgres_bulk_index,
    postgres_bulk_index_off,
    sqlite_bulk_index,
    sqlite_fts_values,
    sqlite_restore_insert_trigger,
    sqlite_suspend_insert_trigger,
)

__all__ = ["ChunkWriter", "write_papers"]

CHUNKS_AHEAD = 2  # chunks read ahead of the writer: enough to keep it busy, memory stays flat
# FTS5 flushes its in-memory index to a new segment when the pending data passes this size (1 MB by
# default, a few hundred papers) and at each commit; fewer, larger segments mean less merging later.
FTS_HASH_BYTES = 32 * 1024 * 1024
FTS_AUTOMERGE = 8  # merge eight segments of a level at once, not four: fewer rewrites of the same data

Chunk = tuple[dict[str, Paper], dict[str, dt.date]]


# --- any database, through SQLAlchemy (the backfill's path too) -------------------------------------


def _paper_values(paper: Paper, now: dt.datetime) -> dict:
    return {
        "id": paper.id, "version": paper.version, "title": paper.title, "authors": list(paper.authors),
        "abstract": paper.abstract, "categories": list(paper.categories), "primary_category": paper.primary,
        "doi": paper.doi, "journal_ref": paper.journal_ref, "license": paper.license, "comment": paper.comment,
        "published": paper.published, "updated_at": now,
    }


def _insert(session: Session):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise BadInput(f"importing needs SQLite or PostgreSQL, not {dialect}")


def write_papers(session: Session, papers: dict[str, Paper], days: dict[str, dt.date]) -> int:
    """One upsert compiled once and run for the whole chunk (an executemany); returns new announcements.

    A stored newer version is never overwritten by an older one; a DOI, journal reference, licence
    or first-version date the new record lacks is kept.
    """
    insert = _insert(session)
    connection = session.connection()
    stmt = insert(PaperRow)
    updatable = ["version", "title", "authors", "abstract", "categories", "primary_category", "comment",
                 "updated_at"]
    kept_unless_given = ["doi", "journal_ref", "license", "published"]
    changes = {c: stmt.excluded[c] for c in updatable}
    changes.update({c: func.coalesce(stmt.excluded[c], getattr(PaperRow, c)) for c in kept_unless_given})
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=changes,
                                      where=PaperRow.version <= stmt.excluded.version)
    now = utcnow()
    connection.execute(stmt, [_paper_values(p, now) for p in papers.values()])
    if not days:
        return 0
    announcements = [{"day": day, "paper_id": pid, "announce_type": AnnounceType.NEW.value,
                      "version": papers[pid].version} for pid, day in days.items()]
    added = insert(AnnouncementRow).on_conflict_do_nothing(index_elements=["day", "paper_id"])
    result = connection.execute(added.returning(AnnouncementRow.id), announcements)
    return len(result.all())  # rowcount is -1 for multi-row inserts on some drivers


# --- SQLite, through the DB-API -------------------------------------------------------------------

# The same upsert as `write_papers`, as SQLAlchemy's SQLite dialect stores the values (JSON text,
# ISO dates, `YYYY-MM-DD HH:MM:SS.ffffff` times), so rows read back the same whichever path wrote them.
_SQLITE_UPSERT = (
    "INSERT INTO papers (id, version, title, authors, abstract, categories, primary_category, doi, journal_ref, "
    "license, comment, published, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, title = excluded.title, "
    "authors = excluded.authors, abstract = excluded.abstract, categories = excluded.categories, "
    "primary_category = excluded.primary_category, comment = excluded.comment, updated_at = excluded.updated_at, "
    "doi = coalesce(excluded.doi, papers.doi), journal_ref = coalesce(excluded.journal_ref, papers.journal_ref), "
    "license = coalesce(excluded.license, papers.license), published = coalesce(excluded.published, papers.published) "
    "WHERE papers.version <= excluded.version"
)
_SQLITE_ANNOUNCE = ("INSERT INTO announcements (day, paper_id, announce_type, version) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (day, paper_id) DO NOTHING")
_SQLITE_STORED = "SELECT id FROM papers WHERE id IN (SELECT value FROM json_each(?))"


def _sqlite_row(paper: Paper, now: str) -> tuple:
    published = paper.published.isoformat() if paper.published is not None else None
    return (paper.id, paper.version, paper.title, json.dumps(list(paper.authors)), paper.abstract,
            json.dumps(list(paper.categories)), paper.primary, paper.doi, paper.journal_ref, paper.license,
            paper.comment, published, now)


class _SqliteChunks:
    """Writes chunks on one DB-API connection of the engine (its pragmas included), in explicit
    transactions (`BEGIN IMMEDIATE`: the write lock is taken up front, waiting out other writers)."""

    def __init__(self, engine: Engine) -> None:
        self.pooled = engine.raw_connection()
        connection = self.pooled.driver_connection
        assert connection is not None, "a pooled connection that is open has its driver connection"
        self.connection: Any = connection
        self.isolation = self.connection.isolation_level
        self.connection.isolation_level = None  # transactions below are explicit
        cursor = self.connection.cursor()
        self.indexed = bool(cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'papers_fts'")
                            .fetchone()[0])
        if self.indexed:
            for key, value in (("hashsize", FTS_HASH_BYTES), ("automerge", FTS_AUTOMERGE)):
                cursor.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES (?, ?)", (key, value))

    def write(self, papers: dict[str, Paper], days: dict[str, dt.date]) -> int:
        now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
        rows = [_sqlite_row(p, now) for p in papers.values()]
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            stored = {r[0] for r in cursor.execute(_SQLITE_STORED, (json.dumps(list(papers)),))}
            new = [p for p in papers.values() if p.id not in stored]
            if self.indexed and new:
                sqlite_suspend_insert_trigger(cursor)
            cursor.executemany(_SQLITE_UPSERT, rows)
            if self.indexed and new:
                sqlite_bulk_index(cursor, [sqlite_fts_values(p.id, p.title, p.abstract, p.authors, p.categories,
                                                             p.published) for p in new])
                sqlite_restore_insert_trigger(cursor)
            before = self.connection.total_changes
            cursor.executemany(_SQLITE_ANNOUNCE, [(day.isoformat(), pid, AnnounceType.NEW.value,
                                                   papers[pid].version) for pid, day in days.items()])
            added = self.connection.total_changes - before
            cursor.execute("COMMIT")
        except BaseException:
            if self.connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        return added

    def finish(self, written: int) -> None:
        """After a large import, merge the FTS5 index into one segment (`optimize`).

        An import leaves the index in many segments, and a search reads every one: at a million
        papers the README's query mix had p95 69 ms before and 40 ms after (same machine, same
        load). Optimizing costs about 7 CPU seconds at a million papers, whatever the import's size,
        so it is done only when the import wrote at least a tenth of the store."""
        if not self.indexed or written == 0:
            return
        cursor = self.connection.cursor()
        stored = cursor.execute("SELECT count(*) FROM search_docs").fetchone()[0]
        if written * 10 >= stored:
            cursor.execute("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')")

    def close(self) -> None:
        self.connection.isolation_level = self.isolation
        self.pooled.close()


class _SessionChunks:
    """Writes chunks through SQLAlchemy (PostgreSQL): the search trigger indexes them in the server."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def write(self, papers: dict[str, Paper], days: dict[str, dt.date]) -> int:
        with self.sessions.begin() as session:
            connection = session.connection()
            postgres_bulk_index_off(connection)
            added = write_papers(session, papers, days)
            postgres_bulk_index(connection, list(papers))
            return added

    def finish(self, written: int) -> None:
        pass

    def close(self) -> None:
        pass


# --- the writer thread ----------------------------------------------------------------------------


class ChunkWriter:
    """Stores chunks of papers in a background thread, in the order they are given.

    `submit` blocks while `CHUNKS_AHEAD` chunks wait, and raises the writer's error if it failed
    (nothing after the failed chunk is written). Leaving the `with` block waits for every submitted
    chunk to be stored, also when the reader stopped on an error.
    `written(papers, announcements)` is called from the writer thread after each chunk commits.
    """

    def __init__(self, sessions: sessionmaker[Session], written: Callable[[int, int], None]) -> None:
        self.sessions = sessions
        self.written = written
        self.queue: queue.Queue[Chunk | None] = queue.Queue(maxsize=CHUNKS_AHEAD)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def submit(self, papers: dict[str, Paper], days: dict[str, dt.date]) -> None:
        while True:
            self._raise_if_failed()
            try:
                self.queue.put((papers, days), timeout=0.5)
                return
            except queue.Full:
                continue

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        while self.thread.is_alive():
            try:
                self.queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        self.thread.join()
        if kind is None:
            self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        target: _SqliteChunks | _SessionChunks | None = None
        try:
            engine = self.sessions.kw["bind"]
            target = _SqliteChunks(engine) if engine.dialect.name == "sqlite" else _SessionChunks(self.sessions)
            written = 0
            while (chunk := self.queue.get()) is not None:
                papers, days = chunk
                self.written(len(papers), target.write(papers, days))
                written += len(papers)
            target.finish(written)
        except BaseException as exc:  # handed to the reading thread, which raises it
            self.error = exc
            while self.queue.get() is not None:  # let the reader finish submitting, then stop
                pass
        finally:
            if target is not None:
                target.close()
