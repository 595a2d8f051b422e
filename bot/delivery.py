"""Scheduled work: ingest each announcement, then bring every chat its digest at its own time.

The rules (who is due, which days a digest covers, when a late feed earns a note) are pure
functions in `bot.delivery_rules`; this module loads what they need, acts on their answers, and
keeps the event loop free: every database call from async code goes through `in_db_thread`.

Subscribing sends nothing by itself, and a process that was down simply finds the chat due when
it comes back: the missed digest goes out once, because the digest, its "shown" marks, the outbox
rows and `last_digest_day` commit together, in one transaction that opens no other session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from bot.app import Paperboy
from bot.db_thread import in_db_thread
from bot.delivery_rules import (
    covered_days,
    first_shown,
    following_line,
    ingest_given_up,
    ingest_wait_over,
    is_due,
    is_late,
    late_note,
    oldest_last_digest,
)
from bot.failpoints import failpoint
from bot.feed_watch import (
    FeedWatch,
    announced_names,
    covers,
    missing_feeds,
    partly_covers,
)
from bot.metrics import DIGEST_BUILD, FETCH_FAILURES
from bot.outbox import Outgoing, enqueue
from digest.calendar import RSS_DELAY, latest_announcement_day
from digest.categories import merge_exprs
from digest.day_index import DayIndex
from digest.digest_store import record_digest, seen_by_chat
from digest.ingest import IngestReport, ingest_day
from digest.layout import cards_shown, digest_messages
from digest.matching import Digest, build_digest, subscription_expr
from digest.message import Message, text
from digest.saved import saved_among
from digest.schema import SubscriptionRow, as_stored
from digest.subscriptions import Subscription

log = logging.getLogger(__name__)


# --- ingest --------------------------------------------------------------------------------


# --- ingest --------------------------------------------------------------------------------


def feeds_to_ingest(app: Paperboy) -> list[str]:
    """The `+`-joined feed paths covering every active subscription and `arxiv.categories`."""
    texts = app.subscriptions.followed_categories() + list(app.settings.arxiv.categories)
    return merge_exprs(expr for t in set(texts) if (expr := subscription_expr(t)) is not None)


async def ingest(app: Paperboy, day: dt.date | None = None, categories: str = "", *,
                 feeds: list[str] | None = None) -> IngestReport | None:
    """Fetch the feeds for `day` (default: the latest announcement due now) and store them.

    `feeds` (paths) or `categories` (an expression) narrow it; by default every followed category.
    """
    if feeds is None:
        if categories:
            expr = subscription_expr(categories)
            feeds = merge_exprs([expr] if expr is not None else [])
        else:
            feeds = await in_db_thread(feeds_to_ingest, app)
    if not feeds:
        log.info("nothing to ingest: no chat follows any category and arxiv.categories is empty")
        return None
    expected = day or latest_announcement_day(app.clock(), delay=RSS_DELAY)
    report = await ingest_day(app.http, app.store, app.settings.arxiv.rss_url, feeds, expected,
                              in_db=in_db_thread)
    log.info("ingest %s", report.summary())
    FETCH_FAILURES.inc(sum(1 for status in report.feeds.values() if status == "failed"))
    if report.new_listings:
        announced = await in_db_thread(app.store.announced_on, expected)
        app.papers_stored([p.id for p, _ in announced])
        app.embed_new([p.id for p, _ in announced])
    return report


def ingest_is_due(app: Paperboy, now: dt.datetime) -> tuple[dt.date, list[str]] | None:
    """The announcement day and the feeds still to fetch for it, or None when everything is in."""
    day = latest_announcement_day(now, delay=RSS_DELAY)
    missing = missing_feeds(app, day, feeds_to_ingest(app))
    if not missing or not ingest_wait_over(day, now, app.settings.schedule.ingest_delay_min):
        return None
    if ingest_given_up(day, now, app.settings.schedule.ingest_give_up_h) and app.store.mailing_status(day):
        return None  # tried for hours; the next announcement will be fetched on its own
    return day, missing


async def ingest_if_due(app: Paperboy) -> str | None:
    """Make sure the latest announcement of every followed category is in (start-up, catch-up, retries)."""
    due = await in_db_thread(ingest_is_due, app, app.clock())
    return await fetch_day(app, *due) if due else None


async def fetch_day(app: Paperboy, day: dt.date, feeds: list[str], *, asked_by_user: bool = False) -> str | None:
    """Fetch `feeds` for `day` if the backoff allows; returns the outcome, or None when it was not tried.

    A person asking gets an answer within `arxiv.interactive_timeout_s`: a fetch that takes longer
    is given up as "unreachable" and the scheduler tries again on its own.
    """
    watch: FeedWatch = app.feed_watch
    now = app.clock()
    statuses = await in_db_thread(app.store.mailing_status, day)
    never_tried = any(feed not in statuses for feed in feeds)  # e.g. a category a chat just followed
    if not never_tried and not watch.may_fetch(day, now, asked_by_user=asked_by_user):
        return None
    try:
        if asked_by_user:
            async with asyncio.timeout(app.settings.arxiv.interactive_timeout_s):
                report = await ingest(app, day, feeds=feeds)
        else:
            report = await ingest(app, day, feeds=feeds)
    except TimeoutError:
        log.warning("fetching arXiv's feed for %s took longer than %.0f s; the scheduler retries",
                    day, app.settings.arxiv.interactive_timeout_s)
        outcome = "unreachable"
    except Exception as exc:  # a bug or the database: logged in one line, retried like a failure
        log.warning("fetching arXiv's feed for %s failed: %s: %s", day, type(exc).__name__, exc)
        outcome = "failed"
    else:
        outcome = "announced" if report is None else "failed" if "failed" in report.feeds.values() else report.status
    watch.record(day, outcome, app.clock())
    return outcome


# --- building and enqueueing -------------------------------------------------------------------


@dataclass(frozen=True)
class DigestDraft:
    """A digest's messages, with everything they show already read from the store.

    Only the digest's own id is missing (its list pages' buttons carry it, and the id exists only
    once the digest is recorded), so `messages(digest_id)` is pure layout: it runs inside the write
    transaction without opening a session of its own.
    """

    digest: Digest
    cards: int
    layout: dict[str, Any]

    def messages(self, digest_id: int) -> list[Message]:
        return digest_messages(self.digest, digest_id=digest_id, **self.layout)


def draft_digest(app: Paperboy, sub: Subscription, digest: Digest, note: str | None = None,
                 tldrs: dict[str, str] | None = None) -> DigestDraft:
    """Read what a digest for `sub` shows (Save buttons' state, the day before) and lay it out in its style."""
    saved = frozenset(saved_among(app.sessions, sub.chat_id, [e.paper.id for e in digest.entries[: sub.max_papers]]))
    earliest = min(digest.covers, default=digest.day)
    layout = {
        "urls": app.urls, "max_cards": sub.max_papers, "page_size": app.settings.digest.page_size, "saved": saved,
        "following": following_line(sub), "note": note, "tldrs": tldrs, "translate": sub.wants_translation,
        "style": sub.style, "day_before": app.store.latest_announced_day(on_or_before=earliest - dt.timedelta(days=1)),
    }
    return DigestDraft(digest, cards_shown(sub.style, len(digest.entries), sub.max_papers), layout)


TLDR_WAIT_S = 120.0


async def card_tldrs(app: Paperboy, pairs: list[tuple[Subscription, Digest]]) -> dict[str, str]:
    """TL;DRs (when `llm.tldr` is on) for every paper shown as a card: one generation per paper for all chats."""
    if app.assistant is None or not app.settings.llm.tldr:
        return {}
    page_size = app.settings.digest.page_size
    papers = {e.paper.id: e.paper for sub, d in pairs for e in d.entries[: first_shown(sub, len(d.entries), page_size)]}
    if not papers:
        return {}
    try:
        texts = await asyncio.wait_for(asyncio.gather(*(app.assistant.tldr(p) for p in papers.values())), TLDR_WAIT_S)
    except TimeoutError:  # a digest is never held back for long by its TL;DRs
        log.warning("TL;DRs took longer than %.0f s; sending digests without the missing ones", TLDR_WAIT_S)
        return {}
    return {pid: text for pid, text in zip(papers, texts) if text}


def cached_tldrs(app: Paperboy, paper_ids: list[str]) -> dict[str, str]:
    """TL;DRs already generated for these papers (a list page turned later shows them; nothing is generated)."""
    if app.assistant is None or not app.settings.llm.tldr:
        return {}
    found = {pid: app.assistant.store.tldr(pid) for pid in paper_ids}
    return {pid: text for pid, text in found.items() if text}


def personal_scores(app: Paperboy):
    return app.personal.scores if app.personal is not None else None


def days_covered(app: Paperboy, day: dt.date, subs: list[Subscription]) -> list[tuple[dt.date, ...]]:
    """The announcement days each chat's digest covers, ending at `day` (see `covered_days`)."""
    oldest = oldest_last_digest(subs)
    stored = app.store.announced_days(after=oldest, upto=day) if oldest else [day]
    return covered_days(day, subs, stored)


def build_digests(app: Paperboy, day: dt.date, subs: list[Subscription]) -> list[Digest]:
    """Digests ending at `day` for many chats at once: one index per span of days, one pass over what was shown.

    It reads the store throughout (the personal ranker reads each chat's likes), so async code
    runs it whole through `in_db_thread`.
    """
    by_span: dict[tuple[dt.date, ...], list[int]] = {}
    for position, span in enumerate(days_covered(app, day, subs)):
        by_span.setdefault(span, []).append(position)
    personal = personal_scores(app)
    digests: dict[int, Digest] = {}
    for span, positions in by_span.items():
        index = DayIndex.build(app.store.announced_over(span))
        seen = seen_by_chat(app.sessions, [p.id for p in index.papers], [subs[k].chat_id for k in positions])
        for k in positions:
            sub = subs[k]
            digests[k] = build_digest(index, sub, day, seen=seen.get(sub.chat_id, ()), personal=personal, covers=span)
    return [digests[k] for k in range(len(subs))]


def commit_digest(app: Paperboy, sub: Subscription, digest: Digest, *, enqueue_messages: bool, note: str | None = None,
                  tldrs: dict[str, str] | None = None, replace: bool = False,
                  advance_schedule: bool = True) -> tuple[int, list[Message]]:
    """Record a digest, its shown papers and (for scheduled ones) its outbox rows in one transaction.

    Everything the messages show is read first, in sessions of its own; the write transaction then
    opens no other session. `replace` stores this digest over the chat's earlier one for the same
    day (`/digest` rebuilt it). A blocking call: async code runs it through `in_db_thread`.
    """
    now = app.clock()
    draft = draft_digest(app, sub, digest, note, tldrs)
    with app.sessions.begin() as session:
        digest_id = record_digest(session, digest, cards=draft.cards, replace=replace)
        messages = draft.messages(digest_id)
        if enqueue_messages:
            items = [Outgoing(f"digest:{sub.chat_id}:{digest.day.isoformat()}:{part}", sub.chat_id, message)
                     for part, message in enumerate(messages)]
            enqueue(session, items, as_stored(now))
        if advance_schedule:
            _advance_schedule(session, sub, digest.day)
    return digest_id, messages


def _advance_schedule(session, sub: Subscription, day: dt.date) -> None:
    """Record that the chat has had `day` (never moving its schedule backwards)."""
    session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.chat_id == sub.chat_id)
        .where((SubscriptionRow.last_digest_day.is_(None)) | (SubscriptionRow.last_digest_day < day))
        .values(last_digest_day=day, version=SubscriptionRow.version + 1)
    )


# --- who is due ----------------------------------------------------------------------------------


@dataclass
class DueChats:
    """The chats whose delivery moment for `day` has come: ready (the day is in) or waiting for it."""

    day: dt.date
    ready: list[Subscription] = field(default_factory=list)
    waiting: list[Subscription] = field(default_factory=list)


def due_subscriptions(app: Paperboy, now: dt.datetime) -> DueChats:
    """Every chat due for the latest announcement, split by whether its categories' feed is in."""
    day = latest_announcement_day(now, delay=RSS_DELAY)
    due = DueChats(day)
    names = announced_names(app, day)
    # After hours of trying, a chat whose categories are partly in gets what is in.
    gave_up = ingest_given_up(day, now, app.settings.schedule.ingest_give_up_h)
    in_for: dict[str, bool] = {}
    for sub in app.subscriptions.still_due(day):
        if not is_due(sub, day, now):
            continue
        if sub.categories not in in_for:
            expr = subscription_expr(sub.categories)
            in_for[sub.categories] = expr is not None and (
                names is None or covers(names, expr) or (gave_up and partly_covers(names, expr)))
        (due.ready if in_for[sub.categories] else due.waiting).append(sub)
    return due


async def deliver_due(app: Paperboy) -> int:
    """Build and enqueue every due chat's digest, then flush the outbox; returns how many chats got one.

    A chat gets a digest only once its day's feed is in: if it is not, the feed is fetched first
    (within the backoff), and a chat kept waiting more than `LATE_NOTE_AFTER` past its delivery
    time gets one short note saying so. Reading, building and committing run in database threads.
    """
    due = await in_db_thread(due_subscriptions, app, app.clock())
    if due.waiting:
        missing = await in_db_thread(ingest_is_due, app, app.clock())
        # Before telling anyone the feed is late, look again (a note must be true when it goes out).
        about_to_note = bool(late_to_note(app, due.day, due.waiting)) and not app.feed_watch.failing(due.day)
        if missing is not None and await fetch_day(app, *missing, asked_by_user=about_to_note) is not None:
            due = await in_db_thread(due_subscriptions, app, app.clock())
        await in_db_thread(enqueue_late_notes, app, due.day, due.waiting)
    if due.ready:
        started = time.perf_counter()
        digests = await in_db_thread(build_digests, app, due.day, due.ready)
        DIGEST_BUILD.observe(time.perf_counter() - started)
        failpoint("digests-built")  # the crash test kills the process here, before anything is enqueued
        pairs = list(zip(due.ready, digests))
        tldrs = await card_tldrs(app, pairs)
        await in_db_thread(_commit_all, app, pairs, tldrs)
        log.info("enqueued %d digests for %s", len(due.ready), due.day)
    await app.deliver_pending()
    return len(due.ready)


def late_to_note(app: Paperboy, day: dt.date, waiting: list[Subscription]) -> list[Subscription]:
    """The waiting chats past their delivery time by `LATE_NOTE_AFTER` that were not told yet."""
    now = app.clock()
    noted: set[tuple[str, dt.date]] = app.feed_watch.noted
    return [sub for sub in waiting if (sub.chat_id, day) not in noted and is_late(sub, day, now)]


def enqueue_late_notes(app: Paperboy, day: dt.date, waiting: list[Subscription]) -> int:
    """Tell each chat waiting more than `LATE_NOTE_AFTER` past its delivery time, once per day."""
    now = app.clock()
    note = late_note(day, failing=app.feed_watch.failing(day))
    items = []
    for sub in late_to_note(app, day, waiting):
        app.feed_watch.noted.add((sub.chat_id, day))
        items.append(Outgoing(f"late:{sub.chat_id}:{day.isoformat()}", sub.chat_id, text(note)))
    if not items:
        return 0
    with app.sessions.begin() as session:  # the key makes it once, across restarts too
        return enqueue(session, items, as_stored(now))


def _commit_all(app: Paperboy, pairs: list[tuple[Subscription, Digest]], tldrs: dict[str, str]) -> None:
    for sub, digest in pairs:
        try:
            commit_digest(app, sub, digest, enqueue_messages=True, tldrs=tldrs)
        except IntegrityError:
            # The chat asked for /digest of the same day while the sweep was building: it has it.
            log.info("digest of %s for %s was recorded meanwhile; not sending it twice", sub.chat_id, digest.day)
