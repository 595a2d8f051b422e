"""Scheduled work: ingest each announcement, then bring every chat its digest at its own time.

A chat is *due* when the store holds an announcement day newer than the last digest it got and
its delivery moment for that day has come: the first `HH:MM` (in its time zone, on one of its
weekdays) after both the announcement and the moment it subscribed. So someone who subscribes in
the evening gets papers at their next delivery time, subscribing sends nothing by itself, and a
process that was down simply finds the chat due when it comes back: the missed digest goes out
once, because the digest, its "shown" marks, the outbox rows and `last_digest_day` commit together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from bot.failpoints import failpoint
from bot.metrics import DIGEST_BUILD, FETCH_FAILURES
from bot.outbox import Outgoing, enqueue
from digest.calendar import RSS_DELAY, feed_time, latest_announcement_day
from digest.categories import merge_exprs
from digest.day_index import DayIndex
from digest.digest_store import record_digest, seen_by_chat
from digest.ingest import IngestReport, ingest_day
from digest.layout import cards_shown, digest_messages
from digest.matching import Digest, build_digest, subscription_expr
from digest.message import Message
from digest.saved import saved_among
from digest.schema import SubscriptionRow, as_stored
from digest.subscriptions import Subscription

log = logging.getLogger(__name__)


# --- ingest --------------------------------------------------------------------------------


def feeds_to_ingest(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The `+`-joined feed paths covering every active subscription and `arxiv.categories`."""
    texts = [s.categories for s in app.subscriptions.all(active_only=True) if s.categories]
    texts += list(app.settings.arxiv.categories)
    return merge_exprs(subscription_expr(t) for t in set(texts))


async def ingest(app, day: dt.date | None = None, categories: str = "") -> IngestReport | None:  # type: ignore[no-untyped-def]
    """Fetch the feeds for `day` (default: the latest announcement due now) and store them."""
    feeds = merge_exprs([subscription_expr(categories)]) if categories else feeds_to_ingest(app)
    if not feeds:
        log.info("nothing to ingest: no chat follows any category and arxiv.categories is empty")
        return None
    expected = day or latest_announcement_day(app.clock(), delay=RSS_DELAY)
    report = await ingest_day(app.http, app.store, app.settings.arxiv.rss_url, feeds, expected)
    log.info("ingest %s", report.summary())
    FETCH_FAILURES.inc(sum(1 for status in report.feeds.values() if status == "failed"))
    if report.new_listings:
        app.papers_stored([p.id for p, _ in app.store.announced_on(expected)])
    return report


def ingest_is_due(app, now: dt.datetime) -> dt.date | None:  # type: ignore[no-untyped-def]
    """The announcement day to (re)try fetching now, or None when there is nothing to do."""
    day = latest_announcement_day(now, delay=RSS_DELAY)
    statuses = app.store.mailing_status(day)
    feeds = feeds_to_ingest(app)
    if not feeds or (statuses and all(statuses.get(f) == "announced" for f in feeds)):
        return None
    give_up = feed_time(day) + dt.timedelta(hours=app.settings.schedule.ingest_give_up_h)
    if now > give_up and statuses:
        return None  # tried for hours; the next announcement will be fetched on its own
    return day


async def ingest_if_due(app) -> IngestReport | None:  # type: ignore[no-untyped-def]
    day = ingest_is_due(app, app.clock())
    return await ingest(app, day) if day else None


# --- who is due --------------------------------------------------------------------------------


def delivery_moment(sub: Subscription, available_at: dt.datetime, not_before: dt.datetime) -> dt.datetime:
    """The first delivery time of `sub` at or after both instants, on an allowed weekday."""
    zone = ZoneInfo(sub.timezone)
    start = max(available_at, not_before).astimezone(zone)
    hour, minute = (int(x) for x in sub.delivery_time.split(":"))
    moment = start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment < start:
        moment = _next_day_same_time(moment, zone)
    allowed = sub.weekday_numbers or frozenset(range(7))
    for _ in range(7):
        if moment.weekday() in allowed:
            break
        moment = _next_day_same_time(moment, zone)
    return moment


def _next_day_same_time(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    naive = moment.replace(tzinfo=None) + dt.timedelta(days=1)
    return naive.replace(tzinfo=zone)


def is_due(sub: Subscription, day: dt.date, now: dt.datetime) -> bool:
    if not sub.is_active or (sub.last_digest_day is not None and sub.last_digest_day >= day):
        return False
    created = sub.created_at.replace(tzinfo=dt.timezone.utc) if sub.created_at.tzinfo is None else sub.created_at
    return now >= delivery_moment(sub, feed_time(day), created)


# --- building and enqueueing -------------------------------------------------------------------


def following_line(sub: Subscription) -> str:
    parts = []
    if sub.categories:
        parts.append(sub.categories)
    if sub.keywords:
        parts.append("keywords: " + ", ".join(sub.keywords))
    if sub.authors:
        parts.append("authors: " + ", ".join(sub.authors))
    return "Following " + " · ".join(parts) if parts else ""


def digest_outgoing(app, sub: Subscription, digest: Digest, digest_id: int, note: str | None = None,  # type: ignore[no-untyped-def]
                    tldrs: dict[str, str] | None = None) -> list[Message]:
    """The messages of a digest for `sub` in its style, with Save buttons in their current state."""
    saved = frozenset(saved_among(app.sessions, sub.chat_id, [e.paper.id for e in digest.entries[: sub.max_papers]]))
    earliest = min(digest.covers, default=digest.day)
    return digest_messages(
        digest, urls=app.urls, digest_id=digest_id, max_cards=sub.max_papers,
        page_size=app.settings.digest.page_size, saved=saved, following=following_line(sub), note=note,
        tldrs=tldrs, translate=sub.wants_translation, style=sub.style,
        day_before=app.store.latest_announced_day(on_or_before=earliest - dt.timedelta(days=1)),
    )


TLDR_WAIT_S = 120.0


async def card_tldrs(app, pairs: list[tuple[Subscription, Digest]]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """TL;DRs (when `llm.tldr` is on) for every paper shown as a card: one generation per paper for all chats."""
    if app.assistant is None or not app.settings.llm.tldr:
        return {}
    papers = {e.paper.id: e.paper for sub, d in pairs for e in d.entries[: _first_shown(app, sub, d)]}
    if not papers:
        return {}
    try:
        texts = await asyncio.wait_for(asyncio.gather(*(app.assistant.tldr(p) for p in papers.values())), TLDR_WAIT_S)
    except asyncio.TimeoutError:  # a digest is never held back for long by its TL;DRs
        log.warning("TL;DRs took longer than %.0f s; sending digests without the missing ones", TLDR_WAIT_S)
        return {}
    return {pid: text for pid, text in zip(papers, texts) if text}


def _first_shown(app, sub: Subscription, digest: Digest) -> int:  # type: ignore[no-untyped-def]
    """How many papers the digest's first messages show: its cards, or the list's first page in compact style."""
    cards = cards_shown(sub.style, len(digest.entries), sub.max_papers)
    return cards if cards else app.settings.digest.page_size


def cached_tldrs(app, paper_ids: list[str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """TL;DRs already generated for these papers (a list page turned later shows them; nothing is generated)."""
    if app.assistant is None or not app.settings.llm.tldr:
        return {}
    found = {pid: app.assistant.store.tldr(pid) for pid in paper_ids}
    return {pid: text for pid, text in found.items() if text}


def personal_scores(app):  # type: ignore[no-untyped-def]
    return app.personal.scores if app.personal is not None else None


MAX_ROLLED_DAYS = 7


def days_covered(app, day: dt.date, subs: list[Subscription]) -> list[tuple[dt.date, ...]]:  # type: ignore[no-untyped-def]
    """The announcement days each chat's digest covers, ending at `day`.

    A day the chat did not get (a weekday it skipped, the process being down) rolls into its next
    digest, so no paper is ever missed; at most a week rolls in. A chat's first digest is one day.
    """
    oldest = min((s.last_digest_day for s in subs if s.last_digest_day), default=None)
    stored = app.store.announced_days(after=oldest, upto=day) if oldest else [day]
    covered = []
    for sub in subs:
        if sub.last_digest_day is None:
            covered.append((day,))
            continue
        days = [d for d in stored if d > sub.last_digest_day][-MAX_ROLLED_DAYS:]
        covered.append(tuple(days) or (day,))
    return covered


def build_digests(app, day: dt.date, subs: list[Subscription]) -> list[Digest]:  # type: ignore[no-untyped-def]
    """Digests ending at `day` for many chats at once: one index per span of days, one pass over what was shown."""
    by_span: dict[tuple[dt.date, ...], list[int]] = {}
    for position, span in enumerate(days_covered(app, day, subs)):
        by_span.setdefault(span, []).append(position)
    personal = personal_scores(app)
    digests: list[Digest | None] = [None] * len(subs)
    for span, positions in by_span.items():
        index = DayIndex.build(app.store.announced_over(span))
        seen = seen_by_chat(app.sessions, [p.id for p in index.papers])
        for k in positions:
            sub = subs[k]
            digests[k] = build_digest(index, sub, day, seen=seen.get(sub.chat_id, ()), personal=personal, covers=span)
    return digests  # type: ignore[return-value]


def commit_digest(app, sub: Subscription, digest: Digest, *, enqueue_messages: bool, note: str | None = None,  # type: ignore[no-untyped-def]
                  tldrs: dict[str, str] | None = None) -> tuple[int, list[Message]]:
    """Record a digest, its shown papers and (for scheduled ones) its outbox rows in one transaction."""
    now = app.clock()
    with app.sessions.begin() as session:
        digest_id = record_digest(session, digest, cards=cards_shown(sub.style, len(digest.entries), sub.max_papers))
        messages = digest_outgoing(app, sub, digest, digest_id, note, tldrs)
        if enqueue_messages:
            items = [Outgoing(f"digest:{sub.chat_id}:{digest.day.isoformat()}:{part}", sub.chat_id, message)
                     for part, message in enumerate(messages)]
            enqueue(session, items, as_stored(now))
        session.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.chat_id == sub.chat_id)
            .where((SubscriptionRow.last_digest_day.is_(None)) | (SubscriptionRow.last_digest_day < digest.day))
            .values(last_digest_day=digest.day, version=SubscriptionRow.version + 1)
        )
    return digest_id, messages


def due_subscriptions(app, now: dt.datetime) -> tuple[dt.date | None, list[Subscription]]:  # type: ignore[no-untyped-def]
    day = app.store.latest_announced_day(on_or_before=now.astimezone(ZoneInfo("America/New_York")).date())
    if day is None:
        return None, []
    return day, [s for s in app.subscriptions.all(active_only=True) if is_due(s, day, now)]


async def deliver_due(app) -> int:  # type: ignore[no-untyped-def]
    """Build and enqueue every due chat's digest, then flush the outbox; returns how many chats got one.

    Building and committing are CPU and database work, so they run in a worker thread.
    """
    day, due = await asyncio.to_thread(due_subscriptions, app, app.clock())
    if due and day is not None:
        started = time.perf_counter()
        digests = await asyncio.to_thread(build_digests, app, day, due)
        DIGEST_BUILD.observe(time.perf_counter() - started)
        failpoint("digests-built")  # the crash test kills the process here, before anything is enqueued
        pairs = list(zip(due, digests))
        tldrs = await card_tldrs(app, pairs)
        await asyncio.to_thread(_commit_all, app, pairs, tldrs)
        log.info("enqueued %d digests for %s", len(due), day)
    await app.deliver_pending()
    return len(due)


def _commit_all(app, pairs: list[tuple[Subscription, Digest]], tldrs: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for sub, digest in pairs:
        try:
            commit_digest(app, sub, digest, enqueue_messages=True, tldrs=tldrs)
        except IntegrityError:
            # The chat asked for /digest of the same day while the sweep was building: it has it.
            log.info("digest of %s for %s was recorded meanwhile; not sending it twice", sub.chat_id, digest.day)
