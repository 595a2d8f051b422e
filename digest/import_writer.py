"""Writing imported papers: one transaction per chunk, from a writer thread or process, search index included.

Why a separate writer: parsing and validating a line is Python, while storing it is mostly the
database's own work (SQLite tokenises and stems the text for its FTS5 index in C; PostgreSQL
computes its tsvectors in the server process). So `ChunkWriter` stores chunk N while the importer
reads chunk N+1. For a large file the writer is a process of its own, so each half gets a core
(a thread would wait for the GIL at every row); `bench/bench_scale.py` measures it, figures in the
README's "Scale".

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
import logging
import multiprocessing
import multiprocessing.process
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

from sqlalchemy import ColumnElement, Engine, func, text
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

log = logging.getLogger(__name__)

__all__ = ["ChunkWriter", "SqliteChunk", "can_write_from_a_process", "write_papers"]

# FTS5 flushes its in-memory index to a new segment when the pending data passes this size (1 MB by
# default, a few hundred papers) and at each commit; fewer, larger segments mean less merging later.
FTS_HASH_BYTES = 32 * 1024 * 1024
PG_WRITERS = 2  # connections (server backends) a PostgreSQL chunk is split across
FTS_AUTOMERGE = 8  # merge eight segments of a level at once, not four: fewer rewrites of the same data
FTS_CRISISMERGE = 16  # FTS5's default: a level with this many segments is merged at once
# While an import writes, FTS5 merges nothing (automerge 0, no crisis merge below 2,000 segments):
# each chunk adds one segment and the import's `optimize` merges them all once at the end, instead
# of rewriting the same index entries level after level. At a million papers this took the writer
# from 70 to 57 CPU seconds. The settings are FTS5's persistent configuration, so each chunk sets
# them and puts them back inside its own transaction: a killed import leaves the usual settings.
_NO_MERGING = (("automerge", 0), ("crisismerge", 2000))
_USUAL_MERGING = (("automerge", FTS_AUTOMERGE), ("crisismerge", FTS_CRISISMERGE))

Chunk = tuple[dict[str, Paper], dict[str, dt.date]]


# --- any database, through SQLAlchemy (the backfill's path too) -------------------------------------


def _paper_values(paper: Paper, now: dt.datetime) -> dict:
    return {
        "id": paper.id, "version": paper.version, "title": paper.title, "authors": list(paper.authors),
        "abstract": paper.abstract, "categories": list(paper.categories), "primary_category": paper.primary,
        "doi": paper.doi, "journal_ref": paper.journal_ref, "license": paper.license, "comment": paper.comment,
        "published": paper.published, "updated_at": now,
    }


def _insert(session: Session) -> Callable[..., postgresql.Insert | sqlite.Insert]:
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
    changes: dict[str, ColumnElement[Any]] = {c: stmt.excluded[c] for c in updatable}
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


@dataclass(frozen=True, slots=True)
class SqliteChunk:
    """A chunk as SQLite stores it: DB-API parameter rows, built by the reading side so the writer
    only writes (and the rows cross to a writer process in a third of the time papers would)."""

    rows: list[tuple]  # `_SQLITE_UPSERT`'s parameters, one per paper
    index_rows: list[tuple[str, str, str, str, str]]  # `sqlite_fts_values`, in the same order
    announcements: list[tuple[str, str, str, int]]

    @classmethod
    def of(cls, papers: dict[str, Paper], days: dict[str, dt.date]) -> SqliteChunk:
        now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
        return cls(
            rows=[_sqlite_row(p, now) for p in papers.values()],
            index_rows=[sqlite_fts_values(p.id, p.title, p.abstract, p.authors, p.categories, p.published)
                        for p in papers.values()],
            announcements=[(day.isoformat(), pid, AnnounceType.NEW.value, papers[pid].version)
                           for pid, day in days.items()],
        )

    def __len__(self) -> int:
        return len(self.rows)


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
            self._configure(cursor, (("hashsize", FTS_HASH_BYTES),))

    def write(self, chunk: SqliteChunk) -> int:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            ids = json.dumps([row[0] for row in chunk.rows])
            stored = {r[0] for r in cursor.execute(_SQLITE_STORED, (ids,))}
            new = [row for row in chunk.index_rows if row[0] not in stored]
            if self.indexed and new:
                sqlite_suspend_insert_trigger(cursor)
            cursor.executemany(_SQLITE_UPSERT, chunk.rows)
            if self.indexed and new:
                self._configure(cursor, _NO_MERGING)
                sqlite_bulk_index(cursor, new)
                cursor.execute("SAVEPOINT flush")  # FTS5 writes its pending entries as one segment here,
                cursor.execute("RELEASE flush")  # while merging is still off
                self._configure(cursor, _USUAL_MERGING)
                sqlite_restore_insert_trigger(cursor)
            before = self.connection.total_changes
            cursor.executemany(_SQLITE_ANNOUNCE, chunk.announcements)
            added = self.connection.total_changes - before
            cursor.execute("COMMIT")
        except BaseException:
            if self.connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        return added

    @staticmethod
    def _configure(cursor: Any, settings: tuple[tuple[str, int], ...]) -> None:
        for key, value in settings:
            cursor.execute("INSERT INTO papers_fts(papers_fts, rank) VALUES (?, ?)", (key, value))

    def finish(self, written: int, chunks: int) -> None:
        """After an import of several chunks, merge the FTS5 index into one segment (`optimize`).

        The import leaves one segment a chunk, and a search reads every one: at a million papers
        the README's query mix had p95 69 ms before and 40 ms after (same machine, same load).
        Optimizing costs 7-10 CPU seconds at a million papers, whatever the import's size, so a
        small import into a large store leaves its few segments to FTS5's usual merging instead."""
        if not self.indexed or written == 0:
            return
        cursor = self.connection.cursor()
        stored = cursor.execute("SELECT count(*) FROM search_docs").fetchone()[0]
        if _large_import(written, chunks, stored):
            cursor.execute("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')")

    def close(self) -> None:
        self.connection.isolation_level = self.isolation
        self.pooled.close()


def _large_import(written: int, chunks: int, stored: int) -> bool:
    """Whether an import rewrote enough of the store (many chunks, or a tenth of its papers) to
    repay the whole-table work that follows it: FTS5's `optimize`, PostgreSQL's `VACUUM (ANALYZE)`."""
    return chunks >= FTS_AUTOMERGE or written * 10 >= stored


class _SessionChunks:
    """Writes chunks through SQLAlchemy (PostgreSQL), each split across `PG_WRITERS` connections.

    Indexing is the server's work (English stemming and three GIN indexes: about 390 µs of one
    backend's CPU a paper), so a chunk's halves go to two backends at once, each half a transaction
    of its own with its papers' search rows: a 100,000-paper import took 30.4 s instead of 37.6 s
    on two cores (more cores would gain more). A crash may leave one half of a chunk stored,
    consistent and searchable like any whole chunk; the next run stores the rest."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.pool = ThreadPoolExecutor(PG_WRITERS, thread_name_prefix="import-pg")

    def write(self, chunk: Chunk) -> int:
        papers, days = chunk
        ids = list(papers)
        step = max(1, -(-len(ids) // PG_WRITERS))
        parts = [ids[i:i + step] for i in range(0, len(ids), step)]
        futures = [self.pool.submit(self._write_part, {i: papers[i] for i in part},
                                    {i: days[i] for i in part if i in days}) for part in parts]
        return sum(f.result() for f in futures)

    def _write_part(self, papers: dict[str, Paper], days: dict[str, dt.date]) -> int:
        with self.sessions.begin() as session:
            connection = session.connection()
            postgres_bulk_index_off(connection)
            added = write_papers(session, papers, days)
            postgres_bulk_index(connection, list(papers))
            return added

    def finish(self, written: int, chunks: int) -> None:
        """After an import of several chunks or a tenth of the store, `VACUUM (ANALYZE)` the tables.

        Without it the planner plans searches on the statistics of the store before the import,
        and autovacuum comes by minutes later, competing with the first searches: at 100,000 papers
        the README's query mix had p95 67 ms while it ran and 16-22 ms once it was done (quiet
        machine). The vacuum also marks the pages all-visible, which the search's bitmap scans use."""
        if written == 0:
            return
        engine = self.sessions.kw["bind"]
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM papers")).scalar_one()
        if not _large_import(written, chunks, stored):
            return
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ("papers", "paper_search"):
                connection.execute(text(f"VACUUM (ANALYZE) {table}"))

    def close(self) -> None:
        self.pool.shutdown()


# --- the writer: a thread, or a process for large imports ------------------------------------------


_STOP = "stop"  # the reader stopped early (Ctrl-C, an unreadable file): no final `optimize`


def _open_target(sessions: sessionmaker[Session]) -> _SqliteChunks | _SessionChunks:
    engine = sessions.kw["bind"]
    return _SqliteChunks(engine) if engine.dialect.name == "sqlite" else _SessionChunks(sessions)


def _serve(sessions: sessionmaker[Session], inbox: Connection, outbox: Connection) -> None:
    """The writer's loop, in a thread or a process: store each chunk received, acknowledge it.

    Acknowledgements: ("written", papers, announcements) per chunk, then ("done",), or ("error",
    exception). After an error the inbox is drained until the reader says it is done, so the
    reader never blocks on a full pipe. A closed inbox (the reader died) stops the writer at once:
    what was committed stays, as after a crash."""
    target: _SqliteChunks | _SessionChunks | None = None
    try:
        target = _open_target(sessions)
        written = chunks = 0
        while (chunk := inbox.recv()) not in (None, _STOP):
            added = target.write(chunk)
            size = len(chunk[0]) if isinstance(chunk, tuple) else len(chunk)
            outbox.send(("written", size, added))
            written, chunks = written + size, chunks + 1
        if chunk is None:  # the end of the input: merge the index; after an interruption, the next run will
            target.finish(written, chunks)
        outbox.send(("done",))
    except (EOFError, OSError) as exc:  # the reader is gone: nothing to tell, nothing left to write
        log.debug("import writer stopped: %s", exc)
    except BaseException as exc:
        _send_error(outbox, exc)
        try:
            while inbox.recv() not in (None, _STOP):
                pass
        except (EOFError, OSError):
            pass
    finally:
        if target is not None:
            target.close()


def _send_error(outbox: Connection, exc: BaseException) -> None:
    try:
        outbox.send(("error", exc))
    except Exception:  # an exception that does not pickle (some carry a connection or a statement)
        outbox.send(("error", BadInput(f"storing failed: {type(exc).__name__}: {exc}")))


def _serve_in_process(url: str, inbox: Connection, outbox: Connection) -> None:
    """The writer process: its own engine on the same database; Ctrl-C is left to the reader, which
    then stops submitting, so the chunk being written is committed rather than cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from digest.db import make_engine, make_sessionmaker  # the child imports what it needs only

    engine = make_engine(url)
    try:
        _serve(make_sessionmaker(engine), inbox, outbox)
    finally:
        engine.dispose()


def can_write_from_a_process(sessions: sessionmaker[Session]) -> bool:
    """A second process can open the same database: a file or a server, not `sqlite://` in memory."""
    url = sessions.kw["bind"].url
    return not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))


class ChunkWriter:
    """Stores chunks of papers in the background, in the order they are given.

    The writer runs in a thread, or with `process=True` in a process of its own: parsing a line
    is Python and holds the GIL, and a writer thread that releases the GIL at every row
    (`sqlite3_step`) waits its turn behind the parser each time, so on two cores a thread only
    overlaps a little (the whole import ran at 99 % of one core). A process overlaps fully; it
    costs a second to start, so it is for imports large enough to repay that (`import_jsonl` decides).

    Chunks cross a pipe (on SQLite as prepared `SqliteChunk` rows); `submit` blocks while the
    writer is a chunk behind, so memory stays flat, and raises the writer's error if it failed
    (nothing after the failed chunk is written). Leaving the `with` block waits for every submitted
    chunk to be stored, also when the reader stopped on an error.
    `written(papers, announcements)` is called in the submitting thread as chunks commit.
    """

    def __init__(self, sessions: sessionmaker[Session], written: Callable[[int, int], None], *,
                 process: bool = False) -> None:
        self.sessions = sessions
        self.written = written
        self.sqlite = sessions.kw["bind"].dialect.name == "sqlite"
        self.error: BaseException | None = None
        self.finished = False
        self.interrupted = False  # set by the reader when it stops before the end of its input
        self._inbox, self._sender = multiprocessing.Pipe(duplex=False)
        self._receiver, self._outbox = multiprocessing.Pipe(duplex=False)
        self.worker: threading.Thread | multiprocessing.process.BaseProcess
        if process and can_write_from_a_process(sessions):
            url = sessions.kw["bind"].url.render_as_string(hide_password=False)
            self.worker = multiprocessing.get_context("spawn").Process(
                target=_serve_in_process, args=(url, self._inbox, self._outbox), name="import-writer", daemon=True)
        else:
            self.worker = threading.Thread(target=_serve, args=(sessions, self._inbox, self._outbox),
                                           name="import-writer", daemon=True)

    def __enter__(self) -> Self:
        self.worker.start()
        if isinstance(self.worker, multiprocessing.process.BaseProcess):
            self._inbox.close()  # the child holds these ends now: a dead child reads as EOF here
            self._outbox.close()
        return self

    def submit(self, papers: dict[str, Paper], days: dict[str, dt.date]) -> None:
        self._collect(block=False)
        self._raise_if_failed()
        chunk: SqliteChunk | Chunk = SqliteChunk.of(papers, days) if self.sqlite else (papers, days)
        try:
            self._sender.send(chunk)
        except OSError:  # BrokenPipeError: the writer process died
            self._collect(block=True)
            self._raise_if_failed()
            raise BadInput("the import's writer process stopped unexpectedly") from None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            self._sender.send(None if kind is None and not self.interrupted else _STOP)
        except OSError:
            pass
        self._collect(block=True)
        self.worker.join()
        self._sender.close()
        self._receiver.close()
        if kind is None:
            self._raise_if_failed()
            if not self.finished:
                raise BadInput("the import's writer process stopped unexpectedly")

    def _collect(self, *, block: bool) -> None:
        """Read the writer's acknowledgements; with `block`, until it is done or gone."""
        while not self.finished and self.error is None and (block or self._receiver.poll()):
            try:
                message = self._receiver.recv()
            except (EOFError, OSError):
                return
            if message[0] == "written":
                self.written(message[1], message[2])
            elif message[0] == "done":
                self.finished = True
            else:
                self.error = message[1]

    def _raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error
