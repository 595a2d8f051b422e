"""Reading and writing the assistant's tables; short synchronous calls, like `digest.store`.

Leases make "one generation ever" hold across processes: before generating, a process inserts a
`llm_leases` row for the key (primary key: only one insert can win) with an expiry; others see
the row and wait for the answers to appear (or for the lease to expire, when the owner died).
Within one process the assistant's asyncio future map already keeps it to one flight.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.assistant.llm import Completion
from bot.assistant.schema import AskTurnRow, FaqAnswerRow, LeaseRow, TldrRow, TranslationRow, UsageRow
from bot.metrics import LLM_TOKENS
from digest.schema import AnnouncementRow, SubscriptionRow, as_stored

__all__ = ["AssistantStore"]

_RESERVE_LOCK = 0x70617065  # "pape": the advisory lock that serialises quota reservations on PostgreSQL


class AssistantStore:
    """All database access of the assistant, over a sessionmaker."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._reserving = threading.Lock()  # one reservation at a time among this process's database threads

    # --- FAQ ------------------------------------------------------------------------------------

    def faq_answers(self, paper_id: str, language: str, count: int) -> list[str] | None:
        """The cached FAQ answers in question order, or None unless all `count` are there."""
        with self._sessions() as session:
            rows = session.scalars(
                select(FaqAnswerRow)
                .where(FaqAnswerRow.paper_id == paper_id, FaqAnswerRow.language == language)
                .order_by(FaqAnswerRow.question)
            ).all()
        if len(rows) != count:
            return None
        return [row.answer for row in rows]

    def faq_source(self, paper_id: str, language: str) -> str:
        """What a cached FAQ was written from: "html", "pdf" or "abstract" ("" when unknown)."""
        with self._sessions() as session:
            return session.scalar(
                select(FaqAnswerRow.source)
                .where(FaqAnswerRow.paper_id == paper_id, FaqAnswerRow.language == language).limit(1)
            ) or ""

    def save_faq(self, paper_id: str, language: str, answers: Sequence[str], completion: Completion,
                 source: str) -> bool:
        """Store a complete FAQ set in one transaction; False when another process stored it first.

        The six answers come from one call: its tokens are kept on the first answer's row.
        """
        with self._sessions() as session:
            for index, answer in enumerate(answers):
                first = index == 0
                session.add(
                    FaqAnswerRow(
                        paper_id=paper_id, language=language, question=index, answer=answer,
                        model=completion.model, prompt_tokens=completion.prompt_tokens if first else 0,
                        completion_tokens=completion.completion_tokens if first else 0,
                        cached_tokens=completion.cached_tokens if first else 0, source=source,
                    )
                )
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
                return False

    # --- leases (cross-process single flight) ---------------------------------------------------

    def acquire_lease(self, key: str, owner: str, now: dt.datetime, ttl_s: float) -> bool:
        """Take the lease for `key` unless someone else holds a live one."""
        now = as_stored(now)
        expires = now + dt.timedelta(seconds=ttl_s)
        with self._sessions() as session:
            try:
                session.add(LeaseRow(key=key, owner=owner, expires_at=expires))
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
            taken = session.execute(
                update(LeaseRow)
                .where(LeaseRow.key == key, (LeaseRow.expires_at < now) | (LeaseRow.owner == owner))
                .values(owner=owner, expires_at=expires)
            )
            session.commit()
            return bool(cast(CursorResult[Any], taken).rowcount)

    def release_lease(self, key: str, owner: str) -> None:
        with self._sessions() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.key == key, LeaseRow.owner == owner))
            session.commit()

    # --- translations and TL;DRs ----------------------------------------------------------------

    def translation(self, paper_id: str, language: str) -> tuple[str, str] | None:
        with self._sessions() as session:
            row = session.get(TranslationRow, (paper_id, language))
            return (row.title, row.abstract) if row else None

    def save_translation(self, paper_id: str, language: str, title: str, abstract: str, model: str) -> None:
        self._insert_once(TranslationRow(paper_id=paper_id, language=language, title=title, abstract=abstract,
                                         model=model))

    def tldr(self, paper_id: str) -> str | None:
        with self._sessions() as session:
            row = session.get(TldrRow, paper_id)
            return row.text if row else None

    def save_tldr(self, paper_id: str, text: str, model: str) -> None:
        self._insert_once(TldrRow(paper_id=paper_id, text=text, model=model))

    def _insert_once(self, row: object) -> None:
        with self._sessions() as session:
            try:
                session.add(row)
                session.commit()
            except IntegrityError:  # someone else wrote it first; theirs stands
                session.rollback()

    # --- Ask threads ----------------------------------------------------------------------------

    def thread(self, chat_id: str, paper_id: str, limit: int = 6) -> list[tuple[str, str]]:
        """The last `limit` answered (question, answer) pairs of a chat's thread on a paper, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(AskTurnRow)
                .where(AskTurnRow.chat_id == chat_id, AskTurnRow.paper_id == paper_id, AskTurnRow.answer.is_not(None))
                .order_by(AskTurnRow.id.desc())
                .limit(limit)
            ).all()
        return [(row.question, row.answer or "") for row in reversed(rows)]

    def add_question(self, chat_id: str, paper_id: str, language: str, question: str) -> int:
        with self._sessions() as session:
            row = AskTurnRow(chat_id=chat_id, paper_id=paper_id, language=language, question=question)
            session.add(row)
            session.commit()
            return row.id

    def answer_question(self, turn_id: int, answer: str, model: str) -> None:
        with self._sessions() as session:
            session.execute(update(AskTurnRow).where(AskTurnRow.id == turn_id).values(answer=answer, model=model))
            session.commit()

    def pending_question(self, chat_id: str, paper_id: str) -> tuple[int, str] | None:
        """The latest question of the thread when it has no answer yet (what Retry re-asks)."""
        with self._sessions() as session:
            row = session.scalars(
                select(AskTurnRow)
                .where(AskTurnRow.chat_id == chat_id, AskTurnRow.paper_id == paper_id)
                .order_by(AskTurnRow.id.desc())
                .limit(1)
            ).first()
        return (row.id, row.question) if row is not None and row.answer is None else None

    # --- usage and quotas -----------------------------------------------------------------------

    def reserve(
        self, *, chat_id: str | None, paper_id: str, kind: str, day: dt.date, tokens: int,
        chat_calls: int = 0, daily_tokens: int = 0,
    ) -> int | str:
        """Reserve one call and `tokens` before calling the LLM; the usage row's id, or why not.

        Returns "quota" when the chat has made `chat_calls` calls today, "budget" when all chats
        together would pass `daily_tokens` today (0 = no limit). The check and the insert run in
        one transaction, under a lock this process's database threads share, so concurrent requests
        in this process cannot both take the last call; on PostgreSQL a transaction-scoped advisory
        lock does the same for several processes. `settle` replaces the reservation with what was spent.
        """
        with self._reserving, self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _RESERVE_LOCK})
            if chat_calls > 0 and chat_id is not None:
                used = session.scalar(_calls_on(chat_id, day))
                if int(used or 0) >= chat_calls:
                    return "quota"
            if daily_tokens > 0:
                spent = session.scalar(_tokens_on(day))
                if int(spent or 0) + tokens > daily_tokens:
                    return "budget"
            row = UsageRow(chat_id=chat_id, paper_id=paper_id, kind=kind, day=day, calls=1,
                           prompt_tokens=tokens, completion_tokens=0, ok=False)
            session.add(row)
            session.commit()
            return row.id

    def settle(self, usage_id: int, *, calls: int, prompt_tokens: int, completion_tokens: int, cached_tokens: int,
               ok: bool) -> None:
        """Replace a reservation with what the request really cost (nothing, if it never reached the LLM)."""
        with self._sessions() as session:
            session.execute(
                update(UsageRow).where(UsageRow.id == usage_id).values(
                    calls=calls, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    cached_tokens=cached_tokens, ok=ok,
                )
            )
            session.commit()
        LLM_TOKENS.labels("prompt").inc(prompt_tokens)
        LLM_TOKENS.labels("completion").inc(completion_tokens)

    def calls_today(self, chat_id: str, day: dt.date) -> int:
        """LLM calls made for a chat on a day, failed ones and retries included: what the quota counts."""
        with self._sessions() as session:
            return int(session.scalar(_calls_on(chat_id, day)) or 0)

    def tokens_today(self, day: dt.date) -> int:
        """Tokens all chats spent (or have reserved) on a day: what the daily token budget counts."""
        with self._sessions() as session:
            return int(session.scalar(_tokens_on(day)) or 0)

    def tokens(self, *, chat_id: str | None = None, paper_id: str | None = None) -> dict[str, int]:
        """Tokens spent, for a chat, a paper, or everything."""
        query = select(
            func.coalesce(func.sum(UsageRow.calls), 0),
            func.coalesce(func.sum(UsageRow.prompt_tokens), 0),
            func.coalesce(func.sum(UsageRow.completion_tokens), 0),
            func.coalesce(func.sum(UsageRow.cached_tokens), 0),
        )
        if chat_id is not None:
            query = query.where(UsageRow.chat_id == chat_id)
        if paper_id is not None:
            query = query.where(UsageRow.paper_id == paper_id)
        with self._sessions() as session:
            calls, prompt, completion, cached = session.execute(query).one()
        return {"calls": calls, "prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached}

    # --- chat language and paper freshness ------------------------------------------------------

    def chat_language(self, chat_id: str) -> str:
        with self._sessions() as session:
            row = session.get(SubscriptionRow, chat_id)
            return (row.language if row is not None else None) or "en"

    def announced_latest(self, paper_id: str) -> bool:
        """Whether the paper is in the newest announcement day we know (today's papers go first)."""
        with self._sessions() as session:
            latest = session.scalar(select(func.max(AnnouncementRow.day)))
            if latest is None:
                return False
            return (session.scalar(
                select(func.count()).select_from(AnnouncementRow).where(
                    AnnouncementRow.paper_id == paper_id, AnnouncementRow.day == latest
                )
            ) or 0) > 0


def _calls_on(chat_id: str, day: dt.date) -> Select[Any]:
    """LLM calls a chat made on a day (what the quota counts)."""
    return select(func.coalesce(func.sum(UsageRow.calls), 0)).where(UsageRow.chat_id == chat_id, UsageRow.day == day)


def _tokens_on(day: dt.date) -> Select[Any]:
    """Tokens all chats spent or reserved on a day (what the daily token budget counts)."""
    return select(func.coalesce(func.sum(UsageRow.prompt_tokens + UsageRow.completion_tokens), 0)).where(
        UsageRow.day == day)
