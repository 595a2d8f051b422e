"""Reading and writing subscriptions (one `SubscriptionRow` per chat), safely under concurrent writers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from digest.schema import DigestRow, SavedPaperRow, SentPaperRow, SubscriptionRow, as_stored
from digest.subscriptions.subscription import Subscription


class SubscriptionConflict(Exception):
    """The subscription changed since it was read (another process or task wrote it): read it again and redo."""


_FIELDS = [f for f in Subscription.__dataclass_fields__ if f != "chat_id"]
_WRITTEN = [f for f in _FIELDS if f not in ("created_at", "version")]
_TUPLES = {"keywords", "exclude", "authors"}


def _from_row(row: SubscriptionRow) -> Subscription:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in _TUPLES:
        values[name] = tuple(values[name] or ())
    return Subscription(chat_id=row.chat_id, **values)


class SubscriptionStore:
    """Read and write subscriptions; a chat without a row gets the configured defaults."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        defaults: Subscription | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.sessions = sessions
        self.defaults = defaults or Subscription(chat_id="")
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _now(self) -> dt.datetime:
        """Naive UTC, as stored."""
        return as_stored(self.clock())

    def get(self, chat_id: str) -> Subscription | None:
        with self.sessions() as session:
            row = session.get(SubscriptionRow, chat_id)
            return _from_row(row) if row else None

    def get_or_default(self, chat_id: str, chat_kind: str = "private") -> Subscription:
        return self.get(chat_id) or replace(self.defaults, chat_id=chat_id, chat_kind=chat_kind, created_at=self._now())

    def save(self, sub: Subscription) -> Subscription:
        """Write the whole subscription, if nobody changed it since `sub` was read; returns it as stored.

        Two processes (or two tasks) changing one chat's subscription each read it, change it and
        write it back; without a check the second write would silently undo the first. So the write
        only happens if the row is still at `sub.version` (or still absent when `sub.version` is 0),
        and bumps the version; otherwise `SubscriptionConflict` is raised and the caller starts over
        from a fresh read (the bot re-runs the command).
        """
        values = {name: (list(getattr(sub, name)) if name in _TUPLES else getattr(sub, name)) for name in _WRITTEN}
        now = self._now()
        try:
            with self.sessions.begin() as session:
                if sub.version == 0:
                    session.add(SubscriptionRow(chat_id=sub.chat_id, created_at=sub.created_at, updated_at=now,
                                                version=1, **values))
                    session.flush()
                else:
                    result = cast("CursorResult[Any]", session.execute(  # an UPDATE's result has a rowcount
                        update(SubscriptionRow)
                        .where(SubscriptionRow.chat_id == sub.chat_id, SubscriptionRow.version == sub.version)
                        .values(**values, updated_at=now, version=SubscriptionRow.version + 1)
                    ))
                    if result.rowcount != 1:
                        raise SubscriptionConflict(sub.chat_id)
        except IntegrityError:  # someone created the row first
            raise SubscriptionConflict(sub.chat_id) from None
        return replace(sub, version=sub.version + 1)

    def all(self, *, active_only: bool = False) -> list[Subscription]:
        with self.sessions() as session:
            subs = [_from_row(row) for row in session.scalars(select(SubscriptionRow))]
        return [s for s in subs if s.is_active] if active_only else subs

    def still_due(self, day: dt.date) -> list[Subscription]:
        """Active subscriptions that have not had the digest of `day` (or a later one) yet.

        The delivery sweep runs every minute; once most chats have the day, this reads few rows.
        """
        query = select(SubscriptionRow).where(
            SubscriptionRow.paused.is_(False), SubscriptionRow.categories != "",
            or_(SubscriptionRow.last_digest_day.is_(None), SubscriptionRow.last_digest_day < day))
        with self.sessions() as session:
            subs = [_from_row(row) for row in session.scalars(query)]
        return [s for s in subs if s.is_active]

    def followed_categories(self) -> list[str]:
        """The distinct category expressions active chats follow (what the ingester must fetch)."""
        query = select(SubscriptionRow.categories).where(
            SubscriptionRow.paused.is_(False), SubscriptionRow.categories != "").distinct()
        with self.sessions() as session:
            return list(session.scalars(query))

    def pause(self, chat_id: str, reason: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(SubscriptionRow, chat_id)
            if row is not None:
                row.paused, row.paused_reason, row.updated_at = True, reason, self._now()
                row.version += 1

    def move(self, old_chat_id: str, new_chat_id: str) -> None:
        """Give a chat's subscription to its new id (a Telegram group became a supergroup)."""
        with self.sessions.begin() as session:
            row = session.get(SubscriptionRow, old_chat_id)
            if row is None or session.get(SubscriptionRow, new_chat_id) is not None:
                return
            values = {c.name: getattr(row, c.name) for c in SubscriptionRow.__table__.columns}
            values["chat_id"] = new_chat_id
            session.delete(row)
            session.flush()
            session.add(SubscriptionRow(**values))
            # The chat's history moves too: what it was shown (no repeats), its digests (their page
            # buttons are already in the chat) and its saved papers.
            for table in (SentPaperRow, DigestRow, SavedPaperRow):
                session.execute(update(table).where(table.chat_id == old_chat_id).values(chat_id=new_chat_id))
