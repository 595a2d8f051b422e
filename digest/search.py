"""Full-text search over every stored paper: BM25 on SQLite FTS5, ts_rank on PostgreSQL.

Why these engines: they live inside the database the bot already has, so the index is updated in
the same transaction as the papers (database triggers; nothing for the caller to remember) and
there is no second store to back up or keep in step. `bench/bench_search.py` measures FTS5 against
tantivy and PostgreSQL on the 75k-paper corpus (figures in the README): FTS5 answers well inside
the 30 ms p95 target, so a separate engine would buy nothing but moving parts.

Index maintenance is automatic. `create_search_index(connection)` (called from the Alembic
migration) creates, per dialect:

- SQLite: `search_docs` (a stable integer docid per paper id: the implicit rowid of `papers` is
  not stable across VACUUM) and the contentless FTS5 table `papers_fts(title, abstract, authors)`
  with the porter stemmer, kept in step by AFTER INSERT/UPDATE/DELETE triggers on `papers`;
- PostgreSQL: `paper_search(paper_id, document tsvector)` with a GIN index, kept in step by a
  trigger function (title weight A, authors B, abstract D).

Authors are stored as JSON; the triggers index the decoded names (`json_each`), so "José" is found
by `jose` too. `rebuild_search_index(connection)` refills the index from `papers` in one statement
per table (after a bulk load with triggers dropped, or to repair), and reports how many it indexed.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Engine, text

from digest.search_query import SearchQuery

__all__ = [
    "Hit",
    "PaperSearch",
    "SearchPage",
    "create_search_index",
    "drop_search_index",
    "ensure_search_index",
    "rebuild_search_index",
    "search_index_exists",
    "suspend_search_index",
]

# BM25 column weights (title, abstract, authors): a word in the title says more about the paper
# than the same word deep in the abstract; a name is as telling as a title word.
_FTS_WEIGHTS = (4.0, 1.0, 3.0, 0.0)  # facets (categories, dates) do not rank
_AUTHORS_SQLITE = "(SELECT group_concat(value, ' ') FROM json_each({col}))"
# Filters as index terms: `cat:cs.CV after:2026-03` becomes `catcscv AND (m202603 OR ... OR y2027)` in
# the same index as the words, so a filtered search only ever ranks papers that pass its filters
# (joining every word match to `papers` to test its categories and date cost seconds at 1M papers).
# Each paper gets `cat<category>` and `arc<archive>` per category (dots and dashes dropped, lower
# case), `y<year>` and `m<year><month>` of its first version.
_FACETS_SQLITE = (
    "coalesce((SELECT group_concat('cat' || lower(replace(replace(value, '.', ''), '-', '')) || ' arc' || "
    "lower(replace(CASE WHEN instr(value, '.') > 0 THEN substr(value, 1, instr(value, '.') - 1) ELSE value END, "
    "'-', '')), ' ') FROM json_each({cats})), '') || CASE WHEN {published} IS NULL THEN '' ELSE "
    "' y' || substr({published}, 1, 4) || ' m' || substr({published}, 1, 4) || substr({published}, 6, 2) END"
)

# Scoring is the cost of a search (about 1 us per matching paper in FTS5). A query whose words are
# in most papers ("model", "language model") would score tens of thousands of rows for an order
# BM25 barely distinguishes (such words have almost no IDF), so above this many matches only the
# papers with the words in their title are ranked, when there are at least `_TITLE_MATCHES` of them
# (decided per query, not per page, so pages never overlap). PostgreSQL's ts_rank costs about 3 us
# a row, hence its lower threshold.
# bm25 over 4,700 matches took 56 ms at 1M papers. Measured at 1M on the README's query mix (same
# run, load 3.7): windows of 1,500 gave p95 71 ms, windows of 800 gave 45 ms.
_BROAD_MATCHES = 800
_WINDOW_MATCHES = 800  # a broad query ranks only this many of its newest matches
# PostgreSQL reads and decompresses each candidate's document to rank it (about 0.1 ms a candidate
# at 1M papers on a busy 2-core machine), so it ranks fewer: 800 candidates alone cost 75 ms there.
_WINDOW_MATCHES_PG = 200
_BROAD_MATCHES_PG = 200  # ranking costs about 0.1 ms a match on PostgreSQL at 1M papers (see below)
_TITLE_MATCHES = 100
# PostgreSQL cannot read a GIN index in date order, so finding a broad query's newest matches read
# the row of every match (11,000-31,000 rows, 50 ms-1 s, for one common word at 1M papers). Its
# broad queries look first among the papers of the months holding the newest _RECENT_PAPERS.
_RECENT_PAPERS = 20_000
_RECENT_TTL_S = 600.0

# Settings for the transaction of one PostgreSQL search, measured at 1M papers:
# - custom plans: psycopg prepares a statement run five times, and PostgreSQL may then switch to a
#   generic plan that ignores the words' frequencies (2-7 s where a plan made for the query takes
#   10-90 ms);
# - no synchronized scans: a count that stops at its 201st match must start at the table's first
#   page, not wherever another scan of the table got to (one took 4 s from the wrong place);
# - enough memory that the bitmap of a common word's 150,000 matches stays exact: a lossy one
#   makes PostgreSQL re-check every row of its pages, reading each document.
_PG_SEARCH_SETTINGS = ("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                       "set_config('synchronize_seqscans', 'off', true), set_config('work_mem', '32MB', true)")

# Words that BM25 gives no weight but that cost a scan of nearly every paper; dropped when the query
# has anything else to match.
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were with "
    "we our via using based towards toward into".split()
)

_SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS search_docs (docid INTEGER PRIMARY KEY, paper_id VARCHAR(40) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5("
    "title, abstract, authors, facets, content='', tokenize='porter unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER IF NOT EXISTS papers_fts_insert AFTER INSERT ON papers BEGIN
        INSERT OR IGNORE INTO search_docs(paper_id) VALUES (new.id);
        INSERT INTO papers_fts(rowid, title, abstract, authors, facets) VALUES (
            (SELECT docid FROM search_docs WHERE paper_id = new.id),
            new.title, new.abstract, {_AUTHORS_SQLITE.format(col="new.authors")},
            {_FACETS_SQLITE.format(cats="new.categories", published="new.published")});
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS papers_fts_update
    AFTER UPDATE OF title, abstract, authors, categories, published ON papers
    WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract OR old.authors IS NOT new.authors
        OR old.categories IS NOT new.categories OR old.published IS NOT new.published
    BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors, facets) VALUES ('delete',
            (SELECT docid FROM search_docs WHERE paper_id = old.id),
            old.title, old.abstract, {_AUTHORS_SQLITE.format(col="old.authors")},
            {_FACETS_SQLITE.format(cats="old.categories", published="old.published")});
        INSERT INTO papers_fts(rowid, title, abstract, authors, facets) VALUES (
            (SELECT docid FROM search_docs WHERE paper_id = new.id),
            new.title, new.abstract, {_AUTHORS_SQLITE.format(col="new.authors")},
            {_FACETS_SQLITE.format(cats="new.categories", published="new.published")});
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS papers_fts_delete AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors, facets) VALUES ('delete',
            (SELECT docid FROM search_docs WHERE paper_id = old.id),
            old.title, old.abstract, {_AUTHORS_SQLITE.format(col="old.authors")},
            {_FACETS_SQLITE.format(cats="old.categories", published="old.published")});
        DELETE FROM search_docs WHERE paper_id = old.id;
    END""",
)

_PG_DDL = (
    "CREATE TABLE IF NOT EXISTS paper_search ("
    "paper_id VARCHAR(40) PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE, "
    "document tsvector NOT NULL, title_doc tsvector NOT NULL, facets tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_paper_search_document ON paper_search USING GIN (document)",
    "CREATE INDEX IF NOT EXISTS ix_paper_search_title ON paper_search USING GIN (title_doc)",
    "CREATE INDEX IF NOT EXISTS ix_paper_search_facets ON paper_search USING GIN (facets)",
    """CREATE OR REPLACE FUNCTION paper_search_facets(categories json, published date)
    RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
        SELECT to_tsvector('simple', coalesce((
            SELECT string_agg('cat' || lower(replace(replace(value, '.', ''), '-', '')) || ' arc'
                              || lower(replace(split_part(value, '.', 1), '-', '')), ' ')
            FROM json_array_elements_text(CASE WHEN json_typeof(categories) = 'array' THEN categories
                                               ELSE '[]'::json END) AS value), '')
            || CASE WHEN published IS NULL THEN '' ELSE
               ' y' || extract(year FROM published)::int::text
               || ' m' || extract(year FROM published)::int::text
               || lpad(extract(month FROM published)::int::text, 2, '0') END)
    $$""",
    """CREATE OR REPLACE FUNCTION paper_search_document(title text, abstract text, authors json)
    RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
        SELECT setweight(to_tsvector('english', coalesce(title, '')), 'A')
            || setweight(to_tsvector('english', coalesce(CASE WHEN json_typeof(authors) = 'array' THEN
                   (SELECT string_agg(value, ' ') FROM json_array_elements_text(authors) AS value) END, '')), 'B')
            || setweight(to_tsvector('english', coalesce(abstract, '')), 'D')
    $$""",
    """CREATE OR REPLACE FUNCTION paper_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('paperboy.bulk_index', true) = 'on' THEN
            RETURN NULL;  -- a bulk import indexes its chunk itself, in the same transaction
        END IF;
        INSERT INTO paper_search(paper_id, document, title_doc, facets)
        VALUES (NEW.id, paper_search_document(NEW.title, NEW.abstract, NEW.authors),
                to_tsvector('english', coalesce(NEW.title, '')), paper_search_facets(NEW.categories, NEW.published))
        ON CONFLICT (paper_id) DO UPDATE SET document = EXCLUDED.document, title_doc = EXCLUDED.title_doc,
            facets = EXCLUDED.facets;
        RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER papers_search_sync AFTER INSERT OR UPDATE OF title, abstract, authors, "
    "categories, published ON papers FOR EACH ROW EXECUTE FUNCTION paper_search_sync()",
)


# The insert trigger alone, so a bulk import can swap it for its own set-based indexing inside the
# same transaction (see `sqlite_bulk_index`): other connections never see it missing.
_SQLITE_INSERT_TRIGGER = _SQLITE_DDL[2]


def sqlite_fts_values(paper_id: str, title: str, abstract: str, authors: Iterable[str],
                      categories: Iterable[str], published: dt.date | None) -> tuple[str, str, str, str, str]:
    """(paper id, title, abstract, authors, facets) as the SQLite insert trigger indexes a paper,
    computed in Python for a bulk import (the trigger's json_each and string functions are the
    costly half of indexing a row). `tests/digest/test_import_speed.py` checks both give one index."""
    facets = []
    for category in categories:
        archive = category.split(".", 1)[0]
        facets.append(f"cat{category.replace('.', '').replace('-', '').lower()} arc{archive.replace('-', '').lower()}")
    text_of_facets = " ".join(facets)
    if published is not None:
        year = f"{published.year:04d}"
        text_of_facets += f" y{year} m{year}{published.month:02d}"
    return paper_id, title, abstract, " ".join(authors), text_of_facets


def sqlite_bulk_index(cursor: Any, rows: list[tuple[str, str, str, str, str]]) -> None:
    """Index papers just inserted into `papers` by a bulk import, in the caller's transaction.

    `rows` come from `sqlite_fts_values`, for papers that were *not* stored before this
    transaction (a stored paper's update is indexed by the update trigger). The insert trigger is
    dropped for the import's upsert and re-created here before the transaction commits, so a crash
    at any moment leaves either the old store or the new one, index and trigger included.
    """
    cursor.executemany("INSERT OR IGNORE INTO search_docs(paper_id) VALUES (?)", [(row[0],) for row in rows])
    # one VALUES row a statement: an INSERT ... SELECT (or a trigger) into FTS5 runs in a statement
    # savepoint, and FTS5 flushes its pending index at every savepoint, i.e. writes one tiny
    # segment a paper; with VALUES the pending index grows to FTS_HASH_BYTES before it is written
    cursor.executemany(
        "INSERT INTO papers_fts(rowid, title, abstract, authors, facets) "
        "VALUES ((SELECT docid FROM search_docs WHERE paper_id = ?), ?, ?, ?, ?)", rows)


PG_SYNC_FUNCTION = _PG_DDL[6]  # the trigger function, as the migration that added the bulk switch installs it
_PG_BULK_INDEX = (
    "INSERT INTO paper_search(paper_id, document, title_doc, facets) "
    "SELECT id, paper_search_document(title, abstract, authors), to_tsvector('english', coalesce(title, '')), "
    "paper_search_facets(categories, published) FROM papers WHERE id = ANY(:ids) "
    "ON CONFLICT (paper_id) DO UPDATE SET document = EXCLUDED.document, title_doc = EXCLUDED.title_doc, "
    "facets = EXCLUDED.facets"
)


def postgres_bulk_index_off(connection: Connection) -> None:
    """Switch the per-row search trigger off for the rest of this transaction only (a bulk import
    then indexes its rows with `postgres_bulk_index` in the same transaction: one set-based insert
    instead of a PL/pgSQL call and an upsert per paper, about 3x faster)."""
    connection.execute(text("SELECT set_config('paperboy.bulk_index', 'on', true)"))


def postgres_bulk_index(connection: Connection, ids: list[str]) -> None:
    """Index (again) the stored papers `ids`, in the caller's transaction."""
    connection.execute(text(_PG_BULK_INDEX), {"ids": ids})


def sqlite_suspend_insert_trigger(cursor: Any) -> None:
    """Drop the insert trigger inside the caller's transaction (`sqlite_restore_insert_trigger` must
    run in the same transaction; see `sqlite_bulk_index`)."""
    cursor.execute("DROP TRIGGER IF EXISTS papers_fts_insert")


def sqlite_restore_insert_trigger(cursor: Any) -> None:
    cursor.execute(_SQLITE_INSERT_TRIGGER)


def create_search_index(connection: Connection) -> None:
    """Create the search index and its triggers for this connection's dialect (idempotent)."""
    for statement in _SQLITE_DDL if _dialect(connection) == "sqlite" else _PG_DDL:
        connection.execute(text(statement))


def drop_search_index(connection: Connection) -> None:
    """Remove the search index, its triggers and functions (the migration's downgrade)."""
    if _dialect(connection) == "sqlite":
        statements = ["DROP TRIGGER IF EXISTS papers_fts_insert", "DROP TRIGGER IF EXISTS papers_fts_update",
                      "DROP TRIGGER IF EXISTS papers_fts_delete", "DROP TABLE IF EXISTS papers_fts",
                      "DROP TABLE IF EXISTS search_docs"]
    else:
        statements = ["DROP TRIGGER IF EXISTS papers_search_sync ON papers",
                      "DROP FUNCTION IF EXISTS paper_search_sync()",
                      "DROP TABLE IF EXISTS paper_search",
                      "DROP FUNCTION IF EXISTS paper_search_document(text, text, json)",
                      "DROP FUNCTION IF EXISTS paper_search_facets(json, date)"]
    for statement in statements:
        connection.execute(text(statement))


def suspend_search_index(connection: Connection) -> None:
    """Drop the index triggers for a bulk load; `rebuild_search_index` afterwards restores them.

    Per-row triggers cost about 0.35 ms a paper on SQLite, a set-based rebuild about 0.11 ms, so
    a bulk import into a small or empty store is faster as suspend, load, rebuild. Searches keep
    working (on the old contents) meanwhile.
    """
    if _dialect(connection) == "sqlite":
        for name in ("papers_fts_insert", "papers_fts_update", "papers_fts_delete"):
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    else:
        connection.execute(text("DROP TRIGGER IF EXISTS papers_search_sync ON papers"))


def rebuild_search_index(connection: Connection) -> int:
    """Re-index every stored paper from scratch; returns how many papers the index now holds."""
    create_search_index(connection)
    if _dialect(connection) == "sqlite":
        connection.execute(text("INSERT INTO papers_fts(papers_fts) VALUES ('delete-all')"))
        connection.execute(text("DELETE FROM search_docs"))
        connection.execute(text("INSERT INTO search_docs(paper_id) SELECT id FROM papers"))
        connection.execute(text(
            "INSERT INTO papers_fts(rowid, title, abstract, authors, facets) "
            f"SELECT d.docid, p.title, p.abstract, {_AUTHORS_SQLITE.format(col='p.authors')}, "
            f"{_FACETS_SQLITE.format(cats='p.categories', published='p.published')} "
            "FROM papers p JOIN search_docs d ON d.paper_id = p.id"))
        connection.execute(text("INSERT INTO papers_fts(papers_fts) VALUES ('optimize')"))
        return connection.execute(text("SELECT count(*) FROM search_docs")).scalar_one()
    connection.execute(text("TRUNCATE paper_search"))
    connection.execute(text(
        "INSERT INTO paper_search(paper_id, document, title_doc, facets) "
        "SELECT id, paper_search_document(title, abstract, authors), to_tsvector('english', coalesce(title, '')), "
        "paper_search_facets(categories, published) FROM papers"))
    connection.execute(text("ANALYZE papers"))  # fresh statistics, or the planner guesses badly after a bulk load
    connection.execute(text("ANALYZE paper_search"))
    return connection.execute(text("SELECT count(*) FROM paper_search")).scalar_one()


def search_index_exists(connection: Connection) -> bool:
    """True when `create_search_index` has run on this database."""
    if _dialect(connection) == "sqlite":
        sql = "SELECT count(*) FROM sqlite_master WHERE name = 'papers_fts'"
    else:
        sql = "SELECT count(*) FROM pg_class WHERE relname = 'paper_search'"
    return bool(connection.execute(text(sql)).scalar_one())


def _dialect(connection: Connection | Engine) -> str:
    name = connection.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"search supports SQLite and PostgreSQL, not {name}")
    return name


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a stored paper id and its relevance (higher is better; 0 for pure filters)."""

    id: str
    score: float


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results. `relaxed` means no paper had every word, so any word was enough."""

    hits: tuple[Hit, ...]
    offset: int
    has_more: bool
    relaxed: bool = False


class PaperSearch:
    """Runs parsed queries against the search index of one database (SQLite FTS5 or PostgreSQL)."""

    def __init__(self, engine: Engine, choice: str = "auto", *, broad_matches: int | None = None,
                 title_matches: int = _TITLE_MATCHES, window_matches: int | None = None) -> None:
        dialect = _dialect(engine)
        expected = {"fts5": "sqlite", "postgres": "postgresql"}.get(choice)
        if expected and expected != dialect:
            raise ValueError(f"search.engine = {choice!r} needs a {expected} database, but this one is {dialect}")
        self.engine = engine
        self.dialect = dialect
        self.broad_matches = broad_matches or (_BROAD_MATCHES if dialect == "sqlite" else _BROAD_MATCHES_PG)
        self.window_matches = window_matches or (_WINDOW_MATCHES if dialect == "sqlite" else _WINDOW_MATCHES_PG)
        self.title_matches = title_matches
        self._recent: tuple[float, dt.date | None] | None = None  # (when looked up, floor date)

    def search(self, query: SearchQuery, *, limit: int = 10, offset: int = 0) -> SearchPage:
        """The papers matching `query`, best first; words are relaxed to OR when AND finds nothing."""
        if query.paper_id:
            return SearchPage(hits=(Hit(query.paper_id, 0.0),), offset=0, has_more=False)
        page = self._run(query, limit, offset, relaxed=False)
        if not page.hits and offset == 0 and len(query.words) > 1:
            page = self._run(query, limit, offset, relaxed=True)
        elif offset > 0 and len(query.words) > 1 and not self._run(query, 1, 0, relaxed=False).hits:
            page = self._run(query, limit, offset, relaxed=True)  # later pages of a relaxed search
        return page

    def search_any(self, query: SearchQuery, *, limit: int = 10) -> SearchPage:
        """Papers matching any of the words, ranked over every match (for keyword lists, e.g. Related)."""
        return self._run(query, limit, 0, relaxed=True, narrow_broad=False)

    def _run(self, query: SearchQuery, limit: int, offset: int, *, relaxed: bool,
             narrow_broad: bool = True) -> SearchPage:
        query = _without_stopwords(query)
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                title_only, window = self._broad(conn, query, relaxed) if narrow_broad else (False, None)
                sql, params = _sqlite_sql(query, relaxed, title_only=title_only, window=window)
            else:
                conn.execute(text(_PG_SEARCH_SETTINGS))
                broad, title_only = self._broad_pg(conn, query, relaxed) if narrow_broad else (False, False)
                sql, params = _postgres_sql(query, relaxed, title_only=title_only,
                                            window=self.window_matches if broad else None,
                                            recent=self._recent_months(conn, query) if broad else None)
            params.update(limit=limit + 1, offset=offset)
            rows = conn.execute(text(sql), params).all()
        hits = tuple(Hit(row[0], float(row[1])) for row in rows[:limit])
        return SearchPage(hits=hits, offset=offset, has_more=len(rows) > limit, relaxed=relaxed)

    def _broad(self, conn: Connection, query: SearchQuery, relaxed: bool) -> tuple[bool, int | None]:
        """For a query so many papers match that ranking them all would be slow: rank only the
        `window_matches` newest matches (the lowest docid among them is returned as the window),
        and of those only the title matches when there are enough. (False, None) for other queries.
        Every step reads at most a window's worth of matches, whatever the store's size."""
        match = _fts_match(query, relaxed)
        if match is None:
            return False, None
        count = "SELECT count(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH :m {w}LIMIT :cap)"
        if conn.execute(text(count.format(w="")), {"m": match, "cap": self.broad_matches + 1}).scalar_one() \
                <= self.broad_matches:
            return False, None
        newest = "SELECT rowid FROM papers_fts WHERE papers_fts MATCH :m ORDER BY rowid DESC LIMIT 1 OFFSET :cap"
        window = conn.execute(text(newest), {"m": match, "cap": self.window_matches}).scalar()
        params = {"m": _fts_match(query, relaxed, title_only=True), "cap": self.title_matches, "w": window}
        titled = conn.execute(text(count.format(w="AND rowid >= :w " if window else "")), params).scalar_one()
        return titled >= self.title_matches, window

    def _recent_months(self, conn: Connection, query: SearchQuery) -> list[str] | None:
        """Month terms (`m202606`, `y2026`) from the first-version date of the store's
        `_RECENT_PAPERS`-th newest paper onwards; None when the store is smaller than that, or the
        query's `before:` ends earlier (its matches are all older). Looked up every ten minutes."""
        now = time.monotonic()
        if self._recent is None or now - self._recent[0] > _RECENT_TTL_S:
            floor = conn.execute(text("SELECT published FROM papers WHERE published IS NOT NULL "
                                      "ORDER BY published DESC OFFSET :n LIMIT 1"), {"n": _RECENT_PAPERS}).scalar()
            if isinstance(floor, str):
                floor = dt.date.fromisoformat(floor)
            self._recent = (now, floor)
        floor = self._recent[1]
        if floor is None or (query.before is not None and query.before < floor):
            return None
        return _month_terms(floor, dt.date(dt.date.today().year + 1, 12, 31))

    def _broad_pg(self, conn: Connection, query: SearchQuery, relaxed: bool) -> tuple[bool, bool]:
        """PostgreSQL's `_broad`: (broad, rank only title matches), counted on the GIN indexes alone."""
        params: dict[str, Any] = {"cap": self.broad_matches + 1}
        loose = _pg_tsquery(query, relaxed, params, loose=True)
        if loose is None:
            return False, False
        facets = "".join(f" AND {clause}" for clause in _pg_facets(query, params))
        count = "SELECT count(*) FROM (SELECT 1 FROM paper_search s WHERE s.{col} @@ ({q}){f} LIMIT :cap) m"
        if conn.execute(text(count.format(col="document", q=loose, f=facets)), params).scalar_one() \
                <= self.broad_matches:
            return False, False
        title_query = _pg_tsquery(query, relaxed, params, text_only=True, loose=True)
        if title_query is None:
            return True, False
        params["cap"] = self.title_matches
        return True, conn.execute(text(count.format(col="title_doc", q=title_query, f=facets)),
                                  params).scalar_one() >= self.title_matches


def _without_stopwords(query: SearchQuery) -> SearchQuery:
    """Drop stopwords from the words, unless nothing else would be left to match."""
    kept = tuple(w for w in query.words if w not in STOPWORDS)
    if kept == query.words or not (kept or query.phrases or query.authors):
        return query
    return replace(query, words=kept)


# --- SQLite FTS5 -----------------------------------------------------------------------------


def _fts_string(value: str) -> str:
    """An FTS5 string literal: tokenized like the index, so `3d-aware` is the phrase `3d aware`."""
    return '"' + value.replace('"', '""') + '"'


def _name_tokens(name: str) -> list[str]:
    return re.findall(r"\w+", name.lower())


def _fts_author(name: str) -> str:
    tokens = [_fts_string(t) for t in _name_tokens(name)]
    if len(tokens) == 1:
        return f"authors : {tokens[0]}"
    # NEAR within 2 tokens: "yann lecun" matches "Yann A. LeCun" and "LeCun Yann"
    return f"authors : NEAR({' '.join(tokens)}, 2)"


def _fts_text(query: SearchQuery, relaxed: bool) -> str | None:
    parts: list[str] = []
    if query.words:
        words = [_fts_string(w) for w in query.words]
        parts.append("(" + " OR ".join(words) + ")" if relaxed else " AND ".join(words))
    parts += [_fts_string(p) for p in query.phrases]
    parts += [_fts_author(a) for a in query.authors if _name_tokens(a)]
    return " AND ".join(parts) if parts else None


def _fts_match(query: SearchQuery, relaxed: bool, *, title_only: bool = False) -> str | None:
    """The FTS5 MATCH: the text part in its columns (only the title for a broad query), AND the filters' facets."""
    text_part = _fts_text(query, relaxed)
    if text_part is None:
        return None
    # no column filter on the plain text: filtering columns reads position lists (2.5x the cost at 1M
    # papers), and no word a person searches looks like a facet term (`catcscv`, `m202603`)
    facets = facet_terms(query)
    matched = f"{{title}} : ({text_part})" if title_only else f"({text_part})"
    for group in facets:
        matched += " AND facets : (" + " OR ".join(_fts_string(t) for t in group) + ")"
    return matched


def facet_terms(query: SearchQuery, today: dt.date | None = None) -> list[list[str]]:
    """The filters as groups of index terms (any term of each group, every group): categories, months."""
    groups: list[list[str]] = []
    if query.categories:
        group = []
        for cat in query.categories:
            flat = cat.lower().replace(".", "").replace("-", "")
            group.append(f"cat{flat}")
            if "." not in cat:
                group.append(f"arc{flat}")
        groups.append(group)
    if query.after or query.before:
        # open-ended: to the end of next year, whole years are one term each (clocks and zones differ)
        until = dt.date(max(today or dt.date.today(), query.after or dt.date.min).year + 1, 12, 31)
        groups.append(_month_terms(query.after or dt.date(1986, 1, 1), query.before or until))
    return groups


def _month_terms(start: dt.date, end: dt.date) -> list[str]:
    """`m<yyyymm>` and `y<yyyy>` terms covering every month from start to end (whole years as one term)."""
    if end < start:
        return ["m000000"]  # an empty range: a term no paper has
    terms: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        if month == 1 and (year < end.year or end.month == 12):
            terms.append(f"y{year}")
            year += 1
            continue
        terms.append(f"m{year}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return terms


def _fts_exclusion(query: SearchQuery) -> str | None:
    return " OR ".join(_fts_string(e) for e in query.exclude) if query.exclude else None


def _filters(query: SearchQuery, params: dict[str, Any], *, sqlite: bool) -> list[str]:
    """WHERE clauses on the papers row `p`: categories (any of) and the first-version date."""
    clauses: list[str] = []
    if query.categories:
        # a LIKE on the stored JSON text (["cs.CL", "cs.AI"]) is several times cheaper per row than
        # unpacking it with json_each; the quotes make `"cs.CL"` match only that whole category
        column = "p.categories" if sqlite else "CAST(p.categories AS TEXT)"
        tests = []
        for i, cat in enumerate(query.categories):
            params[f"cat{i}"] = f'%"{cat}"%' if "." in cat else f'%"{cat}.%'
            tests.append(f"{column} LIKE :cat{i}")
            if "." not in cat:  # an archive without subject classes, e.g. hep-th
                params[f"catx{i}"] = f'%"{cat}"%'
                tests.append(f"{column} LIKE :catx{i}")
        clauses.append("(" + " OR ".join(tests) + ")")
    if query.after:
        params["after"] = query.after
        clauses.append("p.published >= :after")
    if query.before:
        params["before"] = query.before
        clauses.append("p.published <= :before")
    return clauses


def _sqlite_sql(query: SearchQuery, relaxed: bool, *, title_only: bool = False,
                window: int | None = None) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    filters = _filters(query, params, sqlite=True)
    match = _fts_match(query, relaxed, title_only=title_only)
    exclusion = _fts_exclusion(query)
    if match is None:  # filters only: newest first
        if exclusion:
            params["exclusion"] = exclusion
            filters.append("p.id NOT IN (SELECT d.paper_id FROM papers_fts JOIN search_docs d "
                           "ON d.docid = papers_fts.rowid WHERE papers_fts MATCH :exclusion)")
        where = " AND ".join(filters) or "1"
        return (f"SELECT p.id, 0.0 FROM papers p WHERE {where} "
                "ORDER BY p.published DESC, p.id DESC LIMIT :limit OFFSET :offset", params)
    params["match"] = f"({match}) NOT ({exclusion})" if exclusion else match
    if window is not None:  # a broad query: rank only the newest matches (see `_BROAD_MATCHES`)
        params["window"] = window
        filters.insert(0, "papers_fts.rowid >= :window")
    weights = ", ".join(str(w) for w in _FTS_WEIGHTS)
    join = "JOIN papers p ON p.id = d.paper_id " if filters else ""
    where = " AND ".join(["papers_fts MATCH :match", *filters])
    return (f"SELECT d.paper_id, -bm25(papers_fts, {weights}) AS score FROM papers_fts "
            f"JOIN search_docs d ON d.docid = papers_fts.rowid {join}"
            f"WHERE {where} ORDER BY bm25(papers_fts, {weights}) LIMIT :limit OFFSET :offset", params)


# --- PostgreSQL full text --------------------------------------------------------------------


def _pg_tsquery(query: SearchQuery, relaxed: bool, params: dict[str, Any], *, text_only: bool = False,
                loose: bool = False) -> str | None:
    """The tsquery of the words, phrases and authors. `loose` drops what the GIN index cannot check
    by itself (word positions of phrases, the authors' weight), so matching it never reads a document."""
    parts: list[str] = []
    words = []
    for i, word in enumerate(query.words):
        params[f"w{i}"] = word
        words.append(f"plainto_tsquery('english', :w{i})")
    if words:
        parts.append("(" + (" || " if relaxed else " && ").join(words) + ")")
    for i, phrase in enumerate(query.phrases):
        params[f"p{i}"] = phrase
        parts.append(f"{'plainto' if loose else 'phraseto'}_tsquery('english', :p{i})")
    for i, name in enumerate(() if text_only else query.authors):
        tokens = _name_tokens(name)
        if tokens:  # \w+ tokens cannot carry tsquery operators; :B = the authors' weight
            params[f"a{i}{'l' if loose else ''}"] = " & ".join(t if loose else f"{t}:B" for t in tokens)
            parts.append(f"to_tsquery('english', :a{i}{'l' if loose else ''})")
    return " && ".join(parts) if parts else None


def _pg_exclusion(query: SearchQuery, params: dict[str, Any]) -> str | None:
    parts = []
    for i, item in enumerate(query.exclude):
        params[f"e{i}"] = item
        parts.append(f"phraseto_tsquery('english', :e{i})")
    return "(" + " || ".join(parts) + ")" if parts else None


def _pg_facets(query: SearchQuery, params: dict[str, Any]) -> list[str]:
    """The filters as conditions on the `facets` GIN index (see `_FACETS_SQLITE`)."""
    clauses = []
    for i, group in enumerate(facet_terms(query)):
        params[f"facet{i}"] = " | ".join(group)
        clauses.append(f"s.facets @@ to_tsquery('simple', :facet{i})")
    return clauses


def _postgres_sql(query: SearchQuery, relaxed: bool, *, title_only: bool = False,
                  window: int | None = None, recent: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    filters = _filters(query, params, sqlite=False)
    tsquery = _pg_tsquery(query, relaxed, params)
    exclusion = _pg_exclusion(query, params)
    if tsquery is None:
        if exclusion:
            filters.append(f"NOT EXISTS (SELECT 1 FROM paper_search s WHERE s.paper_id = p.id "
                           f"AND s.document @@ {exclusion})")
        where = " AND ".join(filters) or "TRUE"
        return (f"SELECT p.id, 0.0 FROM papers p WHERE {where} "
                "ORDER BY p.published DESC NULLS LAST, p.id DESC LIMIT :limit OFFSET :offset", params)
    if exclusion:
        tsquery = f"({tsquery}) && !!{exclusion}"
    join = "JOIN papers p ON p.id = s.paper_id " if filters else ""
    if window is not None:
        return _postgres_window_sql(query, relaxed, tsquery, join, filters, params, title_only, window, recent)
    filters[:0] = _pg_facets(query, params)
    if title_only:
        filters.insert(0, f"s.title_doc @@ ({_pg_tsquery(query, relaxed, params, text_only=True)})")
    where = " AND ".join(["s.document @@ q.q", *filters])
    return (f"SELECT s.paper_id, ts_rank(s.document, q.q, 1) AS score "
            f"FROM (SELECT {tsquery} AS q) q CROSS JOIN paper_search s {join}"
            f"WHERE {where} ORDER BY score DESC, s.paper_id LIMIT :limit OFFSET :offset", params)


def _postgres_window_sql(query: SearchQuery, relaxed: bool, tsquery: str, join: str, filters: list[str],
                         params: dict[str, Any], title_only: bool, window: int,
                         recent: list[str] | None) -> tuple[str, dict[str, Any]]:
    """A broad query on PostgreSQL: the `window` newest papers the GIN indexes alone say match
    (ids only: no document is read), then the exact match and ts_rank on those few. With `recent`
    (month terms of the store's newest papers), matches from those months are taken first, so that
    finding the newest matches does not read the row of every match in the store.

    ts_rank and a phrase's or author's recheck read the whole document of every row (TOASTed,
    decompressed each time), which is what made broad queries cost 100-500 ms at 100k papers.
    """
    loose = _pg_tsquery(query, relaxed, params, loose=True)
    inner = [c.replace("s.facets", "w.facets") for c in _pg_facets(query, params)]
    if title_only:
        inner.append(f"w.title_doc @@ ({_pg_tsquery(query, relaxed, params, text_only=True, loose=True)})")
    if not title_only or query.authors:
        # (the title's words are in the document too: without authors to check, the title index
        # alone decides, and the document index's long posting lists are not read at all)
        inner.append(f"w.document @@ ({loose})")
    params["window"] = window
    candidates = (f"SELECT w.paper_id FROM paper_search w WHERE {' AND '.join(inner)} "
                  "ORDER BY w.paper_id DESC LIMIT :window")
    if recent:
        # the matches published in the recent months first, the older ones only if those are too
        # few: PostgreSQL runs the second branch only when the first gave fewer than `window` rows,
        # and the first reads just the rows both GIN indexes agree on (the months' and the words')
        params["recent"] = " | ".join(recent)
        months = "w.facets @@ to_tsquery('simple', :recent)"
        newer = candidates.replace("ORDER BY", f"AND {months} ORDER BY")
        # (ordered by an expression, not the column: otherwise PostgreSQL may walk the primary key
        # backwards, reading and filtering every older row until it has `window` matches, 40,000
        # rows and 81 ms for "potential decode" at 1M papers; the words' bitmap reads 5,300: 34 ms)
        older = candidates.replace("ORDER BY w.paper_id", f"AND NOT ({months}) ORDER BY (w.paper_id || '')")
        candidates = f"SELECT paper_id FROM (({newer}) UNION ALL ({older})) c LIMIT :window"
    where = " AND ".join(["s.document @@ q.q", *filters])
    return (f"SELECT s.paper_id, ts_rank(s.document, q.q, 1) AS score FROM (SELECT {tsquery} AS q) q "
            f"CROSS JOIN ({candidates}) newest "
            f"JOIN paper_search s ON s.paper_id = newest.paper_id {join}"
            f"WHERE {where} ORDER BY score DESC, s.paper_id LIMIT :limit OFFSET :offset", params)


def ensure_search_index(engine: Engine) -> int:
    """Build the search index when it is missing or its triggers are gone; returns papers indexed (0: it was current).

    Called once when the schema is set up (`bot.migrate.init_db`), not after every fetch: while the
    triggers exist they keep the index in step with every write. The index is missing in a database
    whose migration dropped an older layout; its triggers are missing after a bulk load that
    suspended them (`suspend_search_index`) and stopped before its `rebuild_search_index`.
    """
    with engine.begin() as conn:
        if search_index_exists(conn) and _triggers_exist(conn):
            return 0
        return rebuild_search_index(conn)


def _triggers_exist(connection: Connection) -> bool:
    if _dialect(connection) == "sqlite":
        count = connection.execute(text(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
            "('papers_fts_insert', 'papers_fts_update', 'papers_fts_delete')")).scalar_one()
        return bool(count == 3)
    count = connection.execute(text(
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'papers_search_sync' AND NOT tgisinternal")).scalar_one()
    return bool(count)
