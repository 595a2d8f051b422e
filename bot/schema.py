"""The tables of the bot side: the outbox of messages that must arrive exactly once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base
from digest.schema import utcnow


class OutboxRow(Base):
    """One message to deliver. `key` (chat, day, part) is unique, so enqueueing twice is a no-op."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_chat_id_id", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    chat_id: Mapped[str] = mapped_column(String(80), index=True)
    payload: Mapped[dict] = mapped_column(JSON)  # digest.message.to_dict(...)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending|sending|sent|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    message_ref: Mapped[str | None] = mapped_column(String(80), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # The sender holding a "sending" row; its heartbeat pushes next_attempt_at (the claim's expiry) on.
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)


class BotStateRow(Base):
    """Small facts an adapter must remember across restarts (e.g. the slash-command fingerprint)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ProcessLeaseRow(Base):
    """A named lease one process holds at a time (the scheduler), renewed while it lives."""

    __tablename__ = "process_leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class FloodBucketRow(Base):
    """A flood limit shared by every sender (PostgreSQL): the next moment (epoch s) it admits a request."""

    __tablename__ = "flood_buckets"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)


class RecentErrorRow(Base):
    """An error any process logged, kept for `paperboy status` (only the newest few hundred)."""

    __tablename__ = "recent_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)


class SeenUpdateRow(Base):
    """A webhook update one bot process has taken, so another one it is redelivered to drops it."""

    __tablename__ = "seen_updates"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "tg:<update_id>"
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
