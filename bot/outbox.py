"""The outbox: every message that must arrive exactly once is a row before it is a send.

`enqueue` writes rows keyed by a unique idempotency key ("digest:<chat>:<day>:<part>"), inside the
caller's transaction, so enqueueing twice is a no-op and a crash never loses a digest. `deliver`
claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of sender processes share
the table), sends them through the chat's adapter and records the result:

- sent: the platform's message id is kept; the row is never sent again.
- transient failure (network, 5xx, 429 the adapter could not absorb): retried with growing delays.
- chat unreachable (blocked, kicked, DMs closed): the subscription is paused, the rows kept as dead.
- chat moved (Telegram group -> supergroup): the subscription and pending rows follow the new id.

Claims. Only the head row of each chat (no earlier row of that chat still pending or sending) can
be claimed, so a chat's messages leave in order whichever sender holds them, and a chat is never
served by two senders at once. A claimed row is "sending", `claimed_by` this sender's id, with
`next_attempt_at` as the claim's expiry, pushed on by a heartbeat while the sender lives. A
restarted sender takes back its own claimed rows at once; another sender's rows are taken over
when their claim expires (`CLAIM_LEASE`), so delivery resumes within seconds of a crash.

Duplicates. Discord drops a resend by its nonce (the row key). Telegram has no such key, so for it
the outbox allows one send at a time whose outcome is not yet recorded (`bot.ports.SendTurn`): a
crash can repeat that one message, never more. Everything else is exactly once.

Speed. That turn is a sender's critical path (send, then record), so recording is one round trip:
on PostgreSQL the UPDATE and its COMMIT go out together (`bot.pg_pipeline`), committed without
waiting for the disk flush. A killed sender loses nothing by that (the server has the commit); only
a crash of the PostgreSQL server itself can forget the last fraction of a second of sent marks,
and then those messages are sent again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, and_, exists, func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot import metrics
from bot.db_thread import in_db_thread
from bot.pg_pipeline import Pipelined
from bot.ports import ChatMoved, ChatUnreachable, Sender, SendError, SendTurn, TransientSendError, takes_turns
from bot.schema import OutboxRow
from digest.message import Message, from_dict, to_dict
from digest.schema import as_stored

log = logging.getLogger(__name__)

CLAIM_LEASE = dt.timedelta(seconds=20)
HEARTBEAT_S = 5.0
CLAIM_BATCH = 200  # head rows (one per chat) claimed per round
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
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(OutboxRow) if dialect == "postgresql" else sqlite.insert(OutboxRow)
        result = session.execute(insert.values(rows).on_conflict_do_nothing(index_elements=["key"])
                                 .returning(OutboxRow.id))
        return len(result.all())
    existing = set(session.scalars(select(OutboxRow.key).where(OutboxRow.key.in_([r["key"] for r in rows]))))
    fresh = [r for r in rows if r["key"] not in existing]
    for row in fresh:
        session.add(OutboxRow(**row))
    return len(fresh)


def default_sender_id(role: str = "sender") -> str:
    """This host's sender id: stable across restarts (so a restart takes back its claims at once).

    Two live senders must never share an id; on one host set `outbox.sender_id` for each.
    """
    return f"{socket.gethostname()}:{role}"


_PG_MARK_SENT = (f"UPDATE {OutboxRow.__tablename__} SET status = 'sent', message_ref = %(ref)s, sent_at = %(at)s, "
                 "error = NULL WHERE id = %(id)s")

Claimed = tuple[int, str, str, dict]  # row id, chat id, key, payload


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
        sender_id: str | None = None,
        platforms: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender_for = sender_for
        self.clock = clock
        self.on_unreachable = on_unreachable
        self.on_moved = on_moved
        self.concurrency = concurrency
        self.sender_id = sender_id or f"{socket.gethostname()}:{os.getpid()}"
        self.platforms = platforms  # the platforms this process can send to ("tg", "dc"); None = any
        self._lock = asyncio.Lock()
        self._unrecorded = asyncio.Lock()  # SendTurn: one unrecorded Telegram send at a time
        self._took_back = False
        bind = sessions.kw.get("bind")
        # Sent marks: one round trip, committed without waiting for the disk flush (see "Speed" above).
        self._pipelined = (Pipelined(bind, pool_size=2, options="-c synchronous_commit=off")
                           if isinstance(bind, Engine) and bind.dialect.name == "postgresql" else None)

    def _now(self) -> dt.datetime:
        return as_stored(self.clock())

    async def deliver(self, max_rounds: int = 10_000) -> int:
        """Send every due row (each chat's in order); returns how many were sent."""
        async with self._lock:
            if not self._took_back:
                await in_db_thread(self.take_back_own_claims)
                self._took_back = True
            heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
            try:
                total = 0
                gate = asyncio.Semaphore(self.concurrency)
                for _ in range(max_rounds):
                    rows = await in_db_thread(self._claim, CLAIM_BATCH)
                    if not rows:
                        break

                    async def run(row: Claimed) -> int:
                        async with gate:
                            return await self._deliver_one(row)

                    sent = sum(await asyncio.gather(*(run(r) for r in rows)))
                    total += sent
                    if not sent:
                        break  # everything claimed failed or waits: the next flush tries again
                return total
            finally:
                heartbeat.cancel()

    def take_back_own_claims(self) -> int:
        """Rows this sender id had claimed when it died go back to the queue at once."""
        with self.sessions.begin() as session:
            result = session.execute(update(OutboxRow).where(
                OutboxRow.status == "sending", OutboxRow.claimed_by == self.sender_id,
            ).values(status="pending", claimed_by=None, next_attempt_at=self._now()))
        taken = int(getattr(result, "rowcount", 0) or 0)  # an UPDATE's result is a CursorResult
        if taken:
            log.info("took back %d outbox rows this sender (%s) had claimed before a restart", taken, self.sender_id)
        return taken

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await in_db_thread(self._renew_claims)
            except Exception:
                log.warning("outbox heartbeat failed", exc_info=True)

    def _renew_claims(self) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(
                OutboxRow.status == "sending", OutboxRow.claimed_by == self.sender_id,
            ).values(next_attempt_at=self._now() + CLAIM_LEASE))

    def _claim(self, limit: int) -> list[Claimed]:
        """Claim the due head row of up to `limit` chats, oldest first."""
        now = self._now()
        platforms = sorted(self.platforms()) if self.platforms is not None else None
        if platforms == []:
            return []  # no adapter here (a scheduler process): leave every row to the senders
        earlier = aliased(OutboxRow)
        blocked = exists().where(and_(earlier.chat_id == OutboxRow.chat_id, earlier.id < OutboxRow.id,
                                      earlier.status.in_(["pending", "sending"])))
        with self.sessions.begin() as session:
            query = (
                select(OutboxRow)
                .where(OutboxRow.status.in_(["pending", "sending"]), OutboxRow.next_attempt_at <= now, ~blocked)
                .where(or_(*(OutboxRow.chat_id.startswith(f"{p}:") for p in platforms)) if platforms else true())
                .order_by(OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=OutboxRow)
            )
            claimed: list[Claimed] = []
            for row in session.scalars(query):
                if self.sender_for(row.chat_id) is None:  # that platform's adapter is not running here
                    continue
                row.status, row.claimed_by, row.next_attempt_at = "sending", self.sender_id, now + CLAIM_LEASE
                claimed.append((row.id, row.chat_id, row.key, row.payload))
        return claimed

    async def _deliver_one(self, claimed: Claimed) -> int:
        row_id, chat_id, key, payload = claimed
        platform = chat_id.split(":", 1)[0]
        sender = self.sender_for(chat_id)
        if sender is None:
            await in_db_thread(self._release, [row_id], delay=dt.timedelta(minutes=1), error="no adapter running")
            return 0
        turn = SendTurn(self._unrecorded) if takes_turns(sender) else None
        try:
            try:
                if turn is not None and takes_turns(sender):
                    ref = await sender.send(chat_id, from_dict(payload), idempotency_key=key, turn=turn)
                else:
                    ref = await sender.send(chat_id, from_dict(payload), idempotency_key=key)
            except ChatMoved as exc:
                await in_db_thread(self._chat_moved, row_id, chat_id, exc.new_chat_id, str(exc))
                return 0
            except ChatUnreachable as exc:
                log.warning("chat %s is unreachable: %s", chat_id, exc)
                metrics.SEND_FAILURES.labels(platform, "unreachable").inc()
                await in_db_thread(self._chat_unreachable, chat_id, str(exc))
                return 0
            except SendError as exc:  # a TransientSendError too
                retry_after = exc.retry_after if isinstance(exc, TransientSendError) else None
                metrics.SEND_FAILURES.labels(platform, "transient" if isinstance(exc, TransientSendError)
                                             else "refused").inc()
                await in_db_thread(self._retry_later, [row_id], str(exc), retry_after)
                return 0
            except Exception as exc:  # an adapter bug must not lose the message
                log.exception("sending outbox row %s failed", row_id)
                metrics.SEND_FAILURES.labels(platform, "bug").inc()
                await in_db_thread(self._retry_later, [row_id], f"{type(exc).__name__}: {exc}", None)
                return 0
            await in_db_thread(self._mark_sent, row_id, ref.message_id)
        finally:
            if turn is not None:
                turn.give_back()
        metrics.MESSAGES_SENT.labels(platform).inc()
        return 1

    def _chat_moved(self, row_id: int, old: str, new: str, error: str) -> None:
        self.on_moved(old, new)
        self._move_rows(old, new)
        self._release([row_id], delay=dt.timedelta(0), error=error)

    def _chat_unreachable(self, chat_id: str, error: str) -> None:
        self.on_unreachable(chat_id, error)
        self._mark_dead(chat_id, error)

    def _mark_sent(self, row_id: int, message_id: str) -> None:
        """Record a send: on PostgreSQL in one round trip, as this runs inside the send turn."""
        if self._pipelined is not None:
            self._pipelined.execute(_PG_MARK_SENT, {"id": row_id, "ref": message_id, "at": self._now()})
            return
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(
                status="sent", message_ref=message_id, sent_at=self._now(), error=None))

    def _release(self, row_ids: list[int], *, delay: dt.timedelta, error: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxRow).where(OutboxRow.id.in_(row_ids)).values(
                status="pending", claimed_by=None, next_attempt_at=self._now() + delay, error=error))

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
                row.status, row.claimed_by, row.next_attempt_at = "pending", None, now + delay

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

    def depth(self) -> dict:
        """Rows by status and the oldest row still to send: for `paperboy status` and /metrics."""
        with self.sessions() as session:
            counts = dict(session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
            oldest = session.execute(
                select(OutboxRow.id, OutboxRow.key, OutboxRow.created_at, OutboxRow.attempts, OutboxRow.error)
                .where(OutboxRow.status.in_(["pending", "sending"])).order_by(OutboxRow.id).limit(1)
            ).first()
        by_status = {status: int(counts.get(status, 0)) for status in ("pending", "sending", "sent", "dead")}
        report: dict = {"by_status": by_status, "oldest_pending": None, "oldest_pending_age_s": None}
        if oldest is not None:
            report["oldest_pending"] = {"id": oldest.id, "key": oldest.key, "created_at": oldest.created_at.isoformat(),
                                        "attempts": oldest.attempts, "error": oldest.error}
            report["oldest_pending_age_s"] = metrics.age_seconds(oldest.created_at, self.clock())
        return report

    def pending_count(self) -> int:
        with self.sessions() as session:
            query = select(func.count()).select_from(OutboxRow).where(OutboxRow.status.in_(["pending", "sending"]))
            return session.scalar(query) or 0
