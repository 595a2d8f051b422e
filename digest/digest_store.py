"""Built digests and what each chat has been shown, so no chat sees a paper twice.

`record_digest` takes the caller's session so a digest, its "shown" marks and the outbox rows that
will carry it commit together: after a crash either all of them exist or none do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from digest.matching import Digest, DigestCounts, DigestEntry
from digest.schema import DigestRow, SentPaperRow
from digest.store import PaperStore

_CHUNK = 500


def record_digest(session: Session, digest: Digest, cards: int, *, replace: bool = False) -> int:
    """Store a digest (and how many cards it showed) and mark its papers as shown; returns its id.

    Recording the same chat and day again returns the existing digest untouched, unless `replace`
    (`/digest` rebuilt it under changed settings): then the stored list becomes the new one, so
    its page buttons page through what the chat now sees.
    """
    entries = [{"id": e.paper.id, "kind": e.kind, "reason": e.reason, "notable": e.notable} for e in digest.entries]
    counts = {**_counts_dict(digest.counts), "cards": cards, "covers": [d.isoformat() for d in digest.covers]}
    existing = session.scalar(select(DigestRow).where(DigestRow.chat_id == digest.chat_id, DigestRow.day == digest.day))
    if existing is not None and not replace:
        return existing.id
    if existing is not None:
        existing.entries, existing.counts = entries, counts
        row = existing
    else:
        row = DigestRow(chat_id=digest.chat_id, day=digest.day, entries=entries, counts=counts)
        session.add(row)
    already = seen_in(session, digest.chat_id, [e.paper.id for e in digest.entries])
    fresh = dict.fromkeys(e.paper.id for e in digest.entries if e.paper.id not in already)
    session.flush()
    if fresh:  # one executemany, not an ORM object per paper: a fan-out marks millions
        session.execute(insert(SentPaperRow), [{"chat_id": digest.chat_id, "paper_id": pid, "day": digest.day}
                                               for pid in fresh])
    return row.id


def _counts_dict(counts: DigestCounts) -> dict[str, int]:
    return {name: getattr(counts, name) for name in counts.__slots__}


def seen_in(session: Session, chat_id: str, paper_ids: Sequence[str]) -> set[str]:
    """Which of `paper_ids` the chat has already been shown."""
    seen: set[str] = set()
    for start in range(0, len(paper_ids), _CHUNK):
        chunk = list(paper_ids[start : start + _CHUNK])
        seen.update(session.scalars(
            select(SentPaperRow.paper_id).where(SentPaperRow.chat_id == chat_id, SentPaperRow.paper_id.in_(chunk))
        ))
    return seen


def shown_before_day(sessions: sessionmaker[Session], chat_id: str, paper_ids: Sequence[str], day: dt.date) -> set[str]:
    """Which of `paper_ids` a digest of an earlier day than `day` showed the chat.

    Papers this day's own digest showed are not among them: rebuilding day `day` keeps them.
    """
    seen: set[str] = set()
    with sessions() as session:
        for start in range(0, len(paper_ids), _CHUNK):
            chunk = list(paper_ids[start : start + _CHUNK])
            seen.update(session.scalars(select(SentPaperRow.paper_id).where(
                SentPaperRow.chat_id == chat_id, SentPaperRow.paper_id.in_(chunk), SentPaperRow.day < day)))
    return seen


def seen_by_chat(sessions: sessionmaker[Session], paper_ids: Iterable[str],
                 chat_ids: Iterable[str] | None = None) -> dict[str, set[str]]:
    """For every chat (or only `chat_ids`), which of `paper_ids` it was already shown (one pass, for the sweep).

    A sweep builds digests for the few chats due at that minute; reading only theirs keeps it
    from reading what thousands of other chats were shown.
    """
    ids = list(paper_ids)
    chats = list(chat_ids) if chat_ids is not None else [None]
    result: dict[str, set[str]] = {}
    with sessions() as session:
        for first_chat in range(0, len(chats), _CHUNK):
            chat_chunk = chats[first_chat : first_chat + _CHUNK]
            for start in range(0, len(ids), _CHUNK):
                query = select(SentPaperRow.chat_id, SentPaperRow.paper_id).where(
                    SentPaperRow.paper_id.in_(ids[start : start + _CHUNK]))
                if chat_ids is not None:
                    query = query.where(SentPaperRow.chat_id.in_(chat_chunk))
                for chat_id, paper_id in session.execute(query):
                    result.setdefault(chat_id, set()).add(paper_id)
    return result


def load_digest(
    sessions: sessionmaker[Session], store: PaperStore, digest_id: int, chat_id: str
) -> tuple[Digest, int] | None:
    """A stored digest and its number of cards, only if it belongs to `chat_id` (a forged button gets nothing)."""
    with sessions() as session:
        row = session.get(DigestRow, digest_id)
        if row is None or row.chat_id != chat_id:
            return None
        return _digest_from_row(row, store), int((row.counts or {}).get("cards", 0))


def _digest_from_row(row: DigestRow, store: PaperStore) -> Digest:
    papers = store.get_papers([e["id"] for e in row.entries])
    entries = tuple(
        DigestEntry(paper=papers[e["id"]], kind=e["kind"], reason=e["reason"], notable=e.get("notable", False))
        for e in row.entries
        if e["id"] in papers
    )
    stored = row.counts or {}
    counts = DigestCounts(**{k: v for k, v in stored.items() if k in DigestCounts.__slots__})
    covers = tuple(dt.date.fromisoformat(d) for d in stored.get("covers", ()))
    return Digest(chat_id=row.chat_id, day=row.day, entries=entries, counts=counts, covers=covers)


def latest_entry_for(sessions: sessionmaker[Session], chat_id: str, paper_id: str,
                     recent: int = 14) -> tuple[int, dict] | None:
    """(number in its digest, stored entry) of a paper in one of the chat's recent digests.

    A card redrawn after a button press (Save's new state) keeps its number and its reason.
    """
    with sessions() as session:
        rows = session.scalars(select(DigestRow).where(DigestRow.chat_id == chat_id)
                               .order_by(DigestRow.day.desc()).limit(recent))
        for row in rows:
            for position, entry in enumerate(row.entries or ()):
                if entry.get("id") == paper_id:
                    return position + 1, entry
    return None
