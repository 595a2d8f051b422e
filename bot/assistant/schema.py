"""The assistant's tables: cached answers, generation leases, Ask threads and LLM usage.

Every promise is a constraint: one FAQ answer per (paper, language, question), one translation
per (paper, language), one TL;DR per paper, one live lease per generation key.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base
from digest.schema import utcnow

__all__ = ["AskTurnRow", "FaqAnswerRow", "LeaseRow", "TldrRow", "TranslationRow", "UsageRow"]


class FaqAnswerRow(Base):
    """One answer of a paper's FAQ in one language; a set is written whole (all six) or not at all."""

    __tablename__ = "llm_faq_answers"
    __table_args__ = (UniqueConstraint("paper_id", "language", "question", name="uq_llm_faq_answers_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    paper_id: Mapped[str] = mapped_column(String(40), index=True)
    language: Mapped[str] = mapped_column(String(16))
    question: Mapped[int] = mapped_column(Integer)  # index into prompts.FAQ_QUESTIONS
    answer: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16), default="")  # html | pdf | abstract
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LeaseRow(Base):
    """A generation in progress somewhere ("faq:<id>:<lang>"); other processes wait for it to expire or finish."""

    __tablename__ = "llm_leases"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class TranslationRow(Base):
    """A paper's title and abstract in one language, shared by every chat."""

    __tablename__ = "llm_translations"

    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class TldrRow(Base):
    """A paper's one-line TL;DR (English, from the abstract), written once for all chats."""

    __tablename__ = "llm_tldrs"

    paper_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AskTurnRow(Base):
    """One question of an Ask thread (chat, paper) and its answer; `answer` is NULL until it succeeds."""

    __tablename__ = "llm_ask_turns"
    __table_args__ = (Index("ix_llm_ask_turns_thread", "chat_id", "paper_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[str] = mapped_column(String(80))
    paper_id: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(16), default="en")
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UsageRow(Base):
    """One LLM-backed request: who asked (NULL for TL;DRs), about what, its calls and the tokens they cost.

    A row is written before the call as a reservation (one call, the estimated tokens) and settled
    after it with what was spent, failed calls and retries included: `calls` count against the
    chat's daily quota and the tokens against the daily token budget. Cache hits and joining
    someone else's generation are free.
    """

    __tablename__ = "llm_usage"
    __table_args__ = (Index("ix_llm_usage_chat_day", "chat_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    paper_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # faq | ask | translate | tldr
    day: Mapped[dt.date] = mapped_column(Date)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
