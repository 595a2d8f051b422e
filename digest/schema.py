"""The tables of the paper side: papers, announcements, mailings, subscriptions, what was sent, and
what each chat saved or 👍/👎'd.

Lists (authors, categories, keywords) are stored as JSON so the same schema runs on SQLite and
PostgreSQL. Every uniqueness rule the product promises ("one paper per id", "a chat never sees a
paper twice", "one digest per chat and day") is a database constraint, not a hope.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base


def as_stored(moment: dt.datetime) -> dt.datetime:
    """A time as the tables store it: naive UTC (an already naive time is taken to be UTC)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def utcnow() -> dt.datetime:
    return as_stored(dt.datetime.now(dt.UTC))


class PaperRow(Base):
    """One paper, keyed by its versionless id; the latest version's metadata wins."""

    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    abstract: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_category: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    doi: Mapped[str | None] = mapped_column(String(200), nullable=True)
    journal_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    license: Mapped[str | None] = mapped_column(String(200), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    published: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)  # Related catches up from it


class AnnouncementRow(Base):
    """A paper listed in one day's mailing; one row per paper and day whatever the feeds."""

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("day", "paper_id", name="uq_announcements_day_paper"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id"), index=True)
    announce_type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)


class MailingRow(Base):
    """What we know of one announcement day for one feed group: fetched, empty, or failing."""

    __tablename__ = "mailings"
    __table_args__ = (UniqueConstraint("day", "feed", name="uq_mailings_day_feed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    feed: Mapped[str] = mapped_column(String(400))  # the `+`-joined categories requested
    status: Mapped[str] = mapped_column(String(16))  # announced | empty | failed
    items: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SubscriptionRow(Base):
    """One chat's subscription: what it follows and when it wants its digest."""

    __tablename__ = "subscriptions"

    chat_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # "tg:123", "dc:456", "console:local"
    chat_kind: Mapped[str] = mapped_column(String(16), default="private")  # private | group | channel
    categories: Mapped[str] = mapped_column(Text, default="")  # Cool Papers algebra, e.g. "cs.AI+cs.LG-cs.CY"
    include_cross: Mapped[bool] = mapped_column(Boolean, default=True)
    include_replacements: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords_only: Mapped[bool] = mapped_column(Boolean, default=False)
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    delivery_time: Mapped[str] = mapped_column(String(5), default="08:00")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    weekdays: Mapped[str] = mapped_column(String(40), default="mon,tue,wed,thu,fri,sat,sun")
    max_papers: Mapped[int] = mapped_column(Integer, default=5)
    style: Mapped[str] = mapped_column(String(16), default="auto", server_default="auto")  # auto | compact | cards
    language: Mapped[str] = mapped_column(String(16), default="en")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_digest_day: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Bumped by every write, so a change based on a stale read is detected and retried.
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SentPaperRow(Base):
    """A paper a chat has been shown in a digest; the primary key makes "never twice" a rule."""

    __tablename__ = "sent_papers"

    chat_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date)


class DigestRow(Base):
    """A built digest: the ordered papers (with reasons) of one chat and day, for paging."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("chat_id", "day", name="uq_digests_chat_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(String(80), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    entries: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{"id":..., "reason":..., "type":...}]
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SavedPaperRow(Base):
    """A paper a chat saved with the Save button or /save."""

    __tablename__ = "saved_papers"

    chat_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class FeedbackRow(Base):
    """A chat's opinion of a paper: +1 (👍, /seed, BibTeX import) or -1 (👎); the latest one wins."""

    __tablename__ = "paper_feedback"

    chat_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8))  # up | down | seed | bib
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
