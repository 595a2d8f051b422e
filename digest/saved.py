"""Saved papers: the Save button's state, per chat.

A tiny module on purpose: cards need to know whether a paper is saved (the button shows ★/☆),
and `/saved`, `/export` and the personal ranker read the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from digest.schema import SavedPaperRow


def saved_among(sessions: sessionmaker[Session], chat_id: str, paper_ids: Sequence[str]) -> set[str]:
    """Which of `paper_ids` the chat has saved."""
    if not paper_ids:
        return set()
    with sessions() as session:
        return set(session.scalars(select(SavedPaperRow.paper_id).where(
            SavedPaperRow.chat_id == chat_id, SavedPaperRow.paper_id.in_(list(paper_ids)))))


def toggle_saved(sessions: sessionmaker[Session], chat_id: str, paper_id: str) -> bool:
    """Save the paper, or unsave it if it was saved; returns whether it is saved now."""
    with sessions.begin() as session:
        row = session.get(SavedPaperRow, (chat_id, paper_id))
        if row is not None:
            session.delete(row)
            return False
        session.add(SavedPaperRow(chat_id=chat_id, paper_id=paper_id))
        return True


def saved_ids(sessions: sessionmaker[Session], chat_id: str) -> list[str]:
    """Every paper the chat saved, newest first."""
    with sessions() as session:
        return list(session.scalars(select(SavedPaperRow.paper_id).where(SavedPaperRow.chat_id == chat_id)
                                    .order_by(SavedPaperRow.saved_at.desc(), SavedPaperRow.paper_id)))
