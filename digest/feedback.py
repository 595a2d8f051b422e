"""What each chat told us about papers: 👍/👎, `/seed` and BibTeX likes, read together with its saves.

The rows live in `paper_feedback` (`digest.schema.FeedbackRow`), saves in `saved_papers`; the
personal ranker (`digest.personal`) reads both as one `Signal`. The latest opinion of a paper wins,
and a save outweighs an old 👎 of the same paper.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, exists, literal, or_, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from digest.schema import FeedbackRow, SavedPaperRow, utcnow

__all__ = ["Signal", "add_likes", "chat_signal", "has_signal", "toggle_feedback"]

_SIGNAL_CHECK = select(or_(exists().where(SavedPaperRow.chat_id == bindparam("chat")),
                           exists().where(FeedbackRow.chat_id == bindparam("chat"))))


@dataclass(frozen=True, slots=True)
class Signal:
    """What a chat told us: liked paper ids (with where the like came from) and disliked ids."""

    likes: dict[str, str]
    dislikes: frozenset[str]

    @property
    def empty(self) -> bool:
        return not self.likes and not self.dislikes


def toggle_feedback(sessions: sessionmaker[Session], chat_id: str, paper_id: str, value: int) -> int:
    """Record 👍 (+1) or 👎 (-1); pressing the same button again clears it. Returns the value now held (0 = none)."""
    with sessions.begin() as session:
        row = session.get(FeedbackRow, (chat_id, paper_id))
        if row is not None and row.value == value:
            session.delete(row)
            return 0
        source = "up" if value > 0 else "down"
        if row is None:
            session.add(FeedbackRow(chat_id=chat_id, paper_id=paper_id, value=value, source=source))
        else:
            row.value, row.source, row.created = value, source, utcnow()
        return value


def add_likes(sessions: sessionmaker[Session], chat_id: str, paper_ids: Iterable[str], source: str) -> int:
    """Mark papers as liked (`seed` or `bib`) unless the chat already has an opinion; returns how many are new."""
    added = 0
    with sessions.begin() as session:
        for paper_id in dict.fromkeys(paper_ids):
            if session.get(FeedbackRow, (chat_id, paper_id)) is None:
                session.add(FeedbackRow(chat_id=chat_id, paper_id=paper_id, value=1, source=source))
                added += 1
    return added


def has_signal(sessions: sessionmaker[Session], chat_id: str) -> bool:
    """One indexed EXISTS on a plain connection (~0.08 ms): the price of a chat without likes."""
    with sessions() as session:
        return bool(session.connection().execute(_SIGNAL_CHECK, {"chat": chat_id}).scalar())


def chat_signal(sessions: sessionmaker[Session], chat_id: str) -> Signal:
    """Saved papers and feedback of a chat, in one query; likes oldest first (newer likes weigh more)."""
    query = union_all(
        select(SavedPaperRow.paper_id.label("paper_id"), literal(1).label("value"), literal("saved").label("source"),
               SavedPaperRow.saved_at.label("at"))
        .where(SavedPaperRow.chat_id == chat_id),
        select(FeedbackRow.paper_id, FeedbackRow.value, FeedbackRow.source, FeedbackRow.created)
        .where(FeedbackRow.chat_id == chat_id),
    )
    likes: dict[str, str] = {}
    dislikes: set[str] = set()
    with sessions() as session:
        rows = list(session.execute(query).all())
    rows.sort(key=lambda row: (row[3] is None, row[3]))
    for paper_id, value, source, _ in rows:
        if value < 0:
            dislikes.add(paper_id)
        elif source == "saved" or paper_id not in likes:
            likes[paper_id] = source
    # a save is stronger than an old 👎 of the same paper
    return Signal(likes=likes, dislikes=frozenset(dislikes - set(likes)))
