"""The outbox: every message that must arrive exactly once is a row before it is a send.

`enqueue` writes rows keyed by a unique idempotency key ("digest:<chat>:<day>:<part>"), inside the
caller's transaction, so enqueueing twice is a no-op and a crash never loses a digest. `deliver`
claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers can share the table),
sends them through the chat's adapter in order, and records the result:

- sent: the platform's message id is kept; the row is never sent again.
- transient failure (network, 5xx, 429 the adapter could not absorb): retried with growing delays.
- chat unreachable (blocked, kicked, DMs closed): the subscription is paused, the rows kept as dead.
- chat moved (Telegram group -> supergroup): the subscription and pending rows follow the new id.

A row is marked "sending" before the send and "sent" after it. If the process dies between the
two, the row is retried after `SENDING_LEASE`; Discord drops the duplicate by nonce (the row key),
Telegram has no such key, so that one window, a crash in the middle of one HTTP call, can repeat a
single message. Everything else is exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.ports import ChatMoved, ChatUnreachable, SendError, Sender, TransientSendError
from bot.schema import OutboxRow
from digest.message import Message, from_dict, to_dict
from digest.schema import as_stored

log = logging.getLogger(__name__)

SENDING_LEASE = dt.timedelta(minutes=5)
MAX_DELAY = dt.timedelta(hours=1)
GIVE_UP_AFTER = 60  # attempts, about two days of hourly retries


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to enqueue, with its idempotency key."""

    key: str
    chat_id: str
    message: Message


def enqueue(session: Session, items: Iterable[Outgoing], now: dt.datetime) -> int:
    """Add messages to the outbox in the caller's transaction; keys already present are skipped."""
    rows = [
        {"key": o.key, "chat_id": o.chat_id, "payload": to_dict(o.message), "status": "pending", "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for o in items
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect)
    if insert is not None:
        result = session.execute(insert(OutboxRow).values(rows).on_conflict_do_nothing(index_elements=["key"])
                                 .returning(OutboxRow.id))
        return len(result.all())
    existing = set(session.scalars(select(OutboxRow.key).where(OutboxRow.key.in_([r["key"] for r in rows]))))
    fresh = [r for r in rows if r["key"] not in existing]
    for row in fresh:
        session.add(OutboxRow(**row))
    return len(fresh)


class Outbox:
    """Delivers pending outbox rows through the adapters' senders."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        sender_for: Callable[[str], Sender | None],
        clock: Callable[[], dt.datetime],
        on_unreachable: Callable[[str, str], None],
        on_moved: Callable[[str, str], None],
        concurrency: int = 8,
    ) -> None:
        self.sessions = sessions
        self.sender_for = sender_for
        self.clock = clock
        self.on_unreachable = on_unreachable
        self.on_moved = on_moved
        self.concurrency = concurrency
        self._lock = asyncio.Lock()

    def _now(self) -> dt.datetime:
        return as_stored(self.clock())

    async def deliver(self, limit: int = 5000) -> int:
        """Send every due row (in order within each chat); returns how many were sent."""
        async with self._lock:
            batches = await asyncio.to_thread(self._claim, limit)
            if not batches:
                return 0
            gate = asyncio.Semaphore(self.concurrency)

            async def run(chat_id: str, rows: list[tuple[int, str, dict]]) -> int:
                async with gate:
                    return await self._deliver_chat(chat_id, rows)

            sent = await asyncio.gather(*(run(chat_id, rows) for chat_id, rows in batches.items()))
            return sum(sent)

    def _claim(self, limit: int) -> dict[str, list[tuple[int, str, dict]]]:
        """Mark due rows as sending and group them by chat, oldest first."""
        now = self._now()
        with self.sessions.begin() as session:
            stale = now - SENDING_LEASE
            query = (
                select(OutboxRow)
                .where(or_(
                    (OutboxRow.status == "pending") & (OutboxRow.next_attempt_at <= now),
                    (OutboxRow.status == "sending") & (OutboxRow.next_attempt_at <= stale),
                ))
                .order_by(OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            batches: dict[str, list[tuple[int, str, dict]]] = {}
            for row in session.scalars(query):
                if self.sender_for(row.chat_id) is None:  # that platform's adapter is not running
                    continue
                row.status, row.next_attempt_at = "sending", now
                batches.setdefault(row.chat_id, []).append((row.id, row.key, row.payload))
        return batches

    async def _deliver_chat(self, chat_id: str, rows: list[tuple[int, str, dict]]) -> int:
        sent = 0
        for position, (row_id, key, payload) in enumerate(rows):
            sender = self.sender_for(chat_id)
            if sender is None:
                self._release([r[0] for r in rows[position:]], delay=dt.timedelta(minutes=1), error="no adapter running")
                return sent
            try:
                ref = await sender.send(chat_id, from_dict(payload), idempotency_key=key)
            except ChatMoved as exc:
                self.on_moved(chat_id, exc.new_chat_id)
                self._move_rows(chat_id, exc.new_chat_id)
                self._release([r[0] for r in rows[position:]], delay=dt.timedelta(0), error=str(exc))
                return sent
            except ChatUnreachable as exc:
                log.warning("chat %s is unreachable: %s", chat_id, exc)
                self.on_unreachable(chat_id, str(exc))
                self._mark_dead(chat_id, str(exc))
                return sent
            except (TransientSendError, SendError) as exc:
                retry_after = exc.retry_after if isinstance(exc, TransientSendError) else None
                self._retry_later([r[0] for r in rows[position:]], str(exc), retry_after)
                return sent
            except Exception as exc:  # an adapter bug must not lose the message
                log.exception("sending outbox row %s failed", row_id)
                self._retry_later([r[0] for r in rows[position:]], f"{type(exc).__name__}: {exc}", None)
                return sent
            await asyncio.to_thread(self._mark_sent, row_id, ref.message_id)  # keep the event loop free
            sent += 1
        return sent

    def _mark_sent(self, row_id: int, message_id: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(
                status="sent", message_ref=message_id, sent_at=self._now(), error=None))

    def _release(self, row_ids: list[int], *, delay: dt.timedelta, error: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id.in_(row_ids)).values(
                status="pending", next_attempt_at=self._now() + delay, error=error))

    def _retry_later(self, row_ids: list[int], error: str, retry_after: float | None) -> None:
        now = self._now()
        with self.sessions.begin() as session:
            for row in session.scalars(select(OutboxRow).where(OutboxRow.id.in_(row_ids))):
                row.attempts += 1
                row.error = error
                if row.attempts >= GIVE_UP_AFTER:
                    row.status = "dead"
                    continue
                delay = dt.timedelta(seconds=retry_after) if retry_after else min(
                    dt.timedelta(seconds=15 * 2 ** min(row.attempts - 1, 10)), MAX_DELAY)
                row.status, row.next_attempt_at = "pending", now + delay

    def _mark_dead(self, chat_id: str, error: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(
                OutboxRow.chat_id == chat_id, OutboxRow.status.in_(["pending", "sending"])
            ).values(status="dead", error=error))

    def _move_rows(self, old: str, new: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(
                OutboxRow.chat_id == old, OutboxRow.status.in_(["pending", "sending"])
            ).values(chat_id=new))

    def pending_count(self) -> int:
        with self.sessions() as session:
            query = select(func.count()).select_from(OutboxRow).where(OutboxRow.status.in_(["pending", "sending"]))
            return session.scalar(query) or 0
