"""Searches a chat ran, kept so that their paging buttons can carry a short key instead of the query.

Paging buttons must fit Telegram's 64-byte callback data, and a query does not, so a search is
stored in `search_queries` under a short key derived from the chat and the query; the button says
`sp:<key>:<page>`, and a key only works in the chat that searched. Keys older than `QUERY_TTL`
are forgotten (their buttons say the search expired).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy import Text as SqlText
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from digest.db import Base
from digest.errors import BadInput
from digest.schema import utcnow
from digest.search_query import SearchQuery, parse_query

__all__ = ["QUERY_TTL", "SearchQueryRow", "recall_query", "remember_query"]

QUERY_TTL = dt.timedelta(days=30)  # paging buttons of older searches say "expired"


class SearchQueryRow(Base):
    """A search a chat ran, so its paging buttons can carry a short key instead of the query."""

    __tablename__ = "search_queries"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(80), index=True)
    query: Mapped[str] = mapped_column(SqlText)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def remember_query(sessions: sessionmaker[Session], chat_id: str, query: SearchQuery) -> str:
    """Store the query for paging and return its short key (the same query in the same chat, the same key)."""
    canonical = query.canonical()
    key = hashlib.blake2b(f"{chat_id}\n{canonical}".encode(), digest_size=6).hexdigest()
    with sessions.begin() as session:
        row = session.get(SearchQueryRow, key)
        if row is None:
            session.execute(delete(SearchQueryRow).where(SearchQueryRow.created < utcnow() - QUERY_TTL))
            session.add(SearchQueryRow(key=key, chat_id=chat_id, query=canonical))
        else:
            row.created = utcnow()
    return key


def recall_query(sessions: sessionmaker[Session], chat_id: str, key: str) -> SearchQuery:
    """The stored query behind a paging button; only the chat that searched may page it."""
    with sessions() as session:
        row = session.scalar(select(SearchQueryRow).where(SearchQueryRow.key == key))
    if row is None or row.chat_id != chat_id:
        raise BadInput("This search has expired. Run /search again.")
    return parse_query(row.query)
