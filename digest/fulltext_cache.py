"""Extracted full text, kept in the database so each paper is fetched from arXiv once.

Only the text is stored (sections as JSON), never the PDF, as arXiv asks. The first reader of a
paper pays one or two polite arXiv requests; every later FAQ, Ask or retry reads the row.
Concurrent first reads in one process share one fetch (an asyncio future per paper id).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from digest.db import Base
from digest.fulltext import DEFAULT_MAX_BYTES, FullText, Section, fetch_fulltext
from digest.schema import utcnow

__all__ = ["FullTextCache", "FullTextRow"]


class FullTextRow(Base):
    """The cleaned sections of one paper's full text, and whether they came from HTML or the PDF."""

    __tablename__ = "fulltexts"

    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(8))  # html | pdf
    title: Mapped[str] = mapped_column(String(1000), default="")
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{"title":..., "text":...}]
    chars: Mapped[int] = mapped_column(Integer, default=0)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class FullTextCache:
    """`get(paper_id)`: the stored full text, fetched and stored on the first call.

    `get` reads and writes the row through `in_db` (the bot passes its `in_db_thread`), never on the loop.
    """

    def __init__(self, sessions: sessionmaker[Session], http: Any, *, html_url: str, pdf_url: str,
                 max_bytes: int = DEFAULT_MAX_BYTES,
                 in_db: Callable[..., Awaitable[Any]] = asyncio.to_thread) -> None:
        self._sessions = sessions
        self._in_db = in_db
        self._http = http
        self._html_url = html_url
        self._pdf_url = pdf_url
        self._max_bytes = max_bytes
        self._inflight: dict[str, asyncio.Future[FullText]] = {}

    def cached(self, paper_id: str) -> FullText | None:
        """The stored text, or None without fetching."""
        with self._sessions() as session:
            row = session.get(FullTextRow, paper_id)
            return _from_row(row) if row is not None else None

    async def get(self, paper_id: str) -> FullText:
        """The paper's full text; raises `FullTextUnavailable` when arXiv has neither HTML nor PDF."""
        pending = self._inflight.get(paper_id)
        if pending is None:
            found = await self._in_db(self.cached, paper_id)
            if found is not None:
                return found
            pending = self._inflight.get(paper_id)  # another reader may have started while we looked
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FullText] = asyncio.get_running_loop().create_future()
        self._inflight[paper_id] = future
        try:
            text = await fetch_fulltext(self._http, paper_id, html_url=self._html_url, pdf_url=self._pdf_url,
                                        max_bytes=self._max_bytes)
            await self._in_db(self._store, paper_id, text)
            future.set_result(text)
            return text
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._inflight[paper_id]

    def _store(self, paper_id: str, text: FullText) -> None:
        row = FullTextRow(
            paper_id=paper_id,
            source=text.source,
            title=text.title[:1000],
            sections=[{"title": s.title, "text": s.text} for s in text.sections],
            chars=text.chars,
        )
        with self._sessions() as session:
            try:
                session.add(row)
                session.commit()
            except IntegrityError:  # another process stored it first: theirs is as good
                session.rollback()


def _from_row(row: FullTextRow) -> FullText:
    sections = [Section(s["title"], s["text"]) for s in row.sections or []]
    return FullText(row.source, sections, row.title or "")  # type: ignore[arg-type]
