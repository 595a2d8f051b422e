"""`/digest` and the digest's buttons: the latest announcement now, and paging through the list.

`/digest` always says which day it shows and why that day: arXiv has not announced yet, there is
no announcement today (weekend, holiday; the next one is named), or the last fetch failed; and a
day where nothing matched says so. It never confuses those with each other.

`/digest YYYY-MM-DD` and `/digest yesterday` (and the header's "day before" button, `dg:<date>`)
show an earlier stored announcement: a thin layer that picks the day and builds it like any other.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from bot.delivery import (
    build_digests,
    cached_tldrs,
    card_tldrs,
    commit_digest,
    digest_outgoing,
    feeds_to_ingest,
    ingest,
    personal_scores,
)
from bot.ports import ChatContext, Reply
from bot.registry import action, command
from digest.calendar import RSS_DELAY, feed_time, is_announcement_day, latest_announcement_day, next_announcement_day
from digest.day_index import DayIndex
from digest.digest_store import find_digest, load_digest, record_digest
from digest.errors import BadInput
from digest.layout import cards_shown, format_day, list_page
from digest.matching import build_digest
from digest.message import Message, text

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
RETRY_FETCH_AFTER = dt.timedelta(minutes=10)


def _local(moment: dt.datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


async def _make_sure_ingested(app, due: dt.date) -> None:  # type: ignore[no-untyped-def]
    """Fetch the due day now if nobody tried recently (a user asking should not wait for the scheduler)."""
    statuses = app.store.mailing_status(due)
    missing = [feed for feed in feeds_to_ingest(app) if statuses.get(feed) != "announced"]
    if not missing:
        return
    # A feed nobody fetched yet (a chat just followed a new category) is fetched at once: "nothing
    # matched" must never stand in for "never fetched". Only feeds that were tried wait a while.
    if all(feed in statuses for feed in missing):
        last_try = app.store.last_mailing_attempt(due)
        if last_try is not None and app.store.now() - last_try < RETRY_FETCH_AFTER:
            return
    try:
        await ingest(app, due)
    except Exception:  # the answer below explains what we have; the scheduler retries
        log.exception("on-demand ingest failed")


def _note(app, sub, due: dt.date, shown: dt.date, now: dt.datetime) -> str | None:  # type: ignore[no-untyped-def]
    """Why the digest shows `shown` rather than a fresher day, in words."""
    today = now.astimezone(NEW_YORK).date()
    if not is_announcement_day(today) and shown == due:
        upcoming = next_announcement_day(today)
        when = _local(feed_time(upcoming), sub.timezone)
        return f"No arXiv announcement today. The next one comes on {format_day(upcoming)} (about {when} your time)."
    if shown < due:
        statuses = set(app.store.mailing_status(due).values())
        if "failed" in statuses:
            return (f"I couldn't fetch arXiv's feed for {format_day(due)} and will keep trying. "
                    f"Here is {format_day(shown)}, the latest I have.")
        return (f"arXiv has not announced {format_day(due)} yet (due {_local(feed_time(due), sub.timezone)} "
                f"your time). Here is {format_day(shown)}, the latest announcement.")
    return None


@command("digest")
async def digest_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    sub = app.subscriptions.get(ctx.chat_id)
    if sub is None or not (sub.categories or sub.keywords or sub.authors):
        return [text("This chat doesn't follow anything yet. Start with e.g. /subscribe cs.CL, "
                     "or /categories to browse.")]
    if args.strip():
        return await earlier_digest(app, ctx, sub, args.strip())
    now = app.clock()
    due = latest_announcement_day(now, delay=RSS_DELAY)
    await _make_sure_ingested(app, due)
    shown = app.store.latest_announced_day(on_or_before=due)
    if shown is None:
        statuses = set(app.store.mailing_status(due).values())
        if "failed" in statuses:
            return [text("I couldn't reach arXiv's feed just now. I'll keep trying; please ask again in a few minutes.")]
        return [text(f"arXiv has not announced {format_day(due)} yet, and I have no earlier papers stored. "
                     "Your digest will arrive at your delivery time (/settings).")]
    note = _note(app, sub, due, shown, now)
    found = find_digest(app.sessions, app.store, ctx.chat_id, shown)
    if found is not None:
        digest_id, digest = found
        return digest_outgoing(app, sub, digest, digest_id, note)
    digest = build_digests(app, shown, [sub])[0]
    tldrs = await card_tldrs(app, [(sub, digest)])
    try:
        _, messages = commit_digest(app, sub, digest, enqueue_messages=False, note=note, tldrs=tldrs)
    except IntegrityError:  # the scheduled sweep recorded this day's digest a moment ago
        digest_id, digest = find_digest(app.sessions, app.store, ctx.chat_id, shown)  # type: ignore[misc]
        return digest_outgoing(app, sub, digest, digest_id, note)
    return messages


def parse_day(words: str, today: dt.date) -> dt.date:
    """'2026-12-01', 'yesterday' or 'today' as a date; `BadInput` says what is accepted."""
    word = words.strip().lower()
    if word in ("today", "now"):
        return today
    if word == "yesterday":
        return today - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(word)
    except ValueError:
        raise BadInput(f"'{words[:30]}' is not a day. Use /digest YYYY-MM-DD (e.g. /digest "
                       f"{(today - dt.timedelta(days=1)).isoformat()}) or /digest yesterday.") from None


async def earlier_digest(app, ctx: ChatContext, sub, words: str) -> list[Message]:  # type: ignore[no-untyped-def]
    """The digest of the announcement on (or last before) a named day, under the chat's current settings."""
    now = app.clock()
    wanted = parse_day(words, now.astimezone(ZoneInfo(sub.timezone)).date())
    if wanted > now.astimezone(NEW_YORK).date():
        raise BadInput(f"{format_day(wanted)} is in the future. /digest shows the latest announcement.")
    shown = app.store.latest_announced_day(on_or_before=wanted)
    if shown is None:
        return [text(f"I have no arXiv announcement stored from {format_day(wanted)} or before. "
                     "/digest shows the latest one.")]
    note = None if shown == wanted else f"No arXiv announcement on {format_day(wanted)}; here is {format_day(shown)}, the one before."
    found = find_digest(app.sessions, app.store, ctx.chat_id, shown)
    if found is not None:
        digest_id, digest = found
        return digest_outgoing(app, sub, digest, digest_id, note)
    if shown == app.store.latest_announced_day():
        # The newest stored day is the one the scheduler would deliver: record it as delivered, as /digest does.
        digest = build_digests(app, shown, [sub])[0]
        tldrs = await card_tldrs(app, [(sub, digest)])
        try:
            return commit_digest(app, sub, digest, enqueue_messages=False, note=note, tldrs=tldrs)[1]
        except IntegrityError:  # the scheduled sweep recorded it a moment ago
            digest_id, digest = find_digest(app.sessions, app.store, ctx.chat_id, shown)  # type: ignore[misc]
            return digest_outgoing(app, sub, digest, digest_id, note)
    # An earlier day is built whole: what the chat saw since then does not hide it, and it does not
    # move the chat's schedule (`last_digest_day`), so no later digest is skipped or rolled.
    index = DayIndex.build(app.store.announced_over((shown,)))
    digest = build_digest(index, sub, shown, personal=personal_scores(app), covers=(shown,))
    tldrs = await card_tldrs(app, [(sub, digest)])
    try:
        with app.sessions.begin() as session:
            digest_id = record_digest(session, digest, cards=cards_shown(sub.style, len(digest.entries), sub.max_papers))
    except IntegrityError:  # recorded a moment ago by another request
        digest_id, digest = find_digest(app.sessions, app.store, ctx.chat_id, shown)  # type: ignore[misc]
    return digest_outgoing(app, sub, digest, digest_id, note, tldrs)


@action("dg")
async def digest_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    """`dg:now` shows the latest digest, `dg:<YYYY-MM-DD>` an earlier day's (the header's "day before")."""
    from bot.app import ActionReply

    day = "" if args in ("", "now") else args
    return ActionReply(replies=await digest_command(app, ctx, day, None))


@action("pg")
async def page_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    """`pg:<digest id>:<page>[:<first>]` turns the compact list's page in place (`first`: cards before it)."""
    from bot.app import ActionReply
    from bot.untrusted import MAX_PAGE, MAX_ROW_ID, ExpiredButton, payload_ints

    numbers = payload_ints(args, MAX_ROW_ID, MAX_PAGE, *((MAX_PAGE,) if args.count(":") == 2 else ()))
    digest_id, page = numbers[:2]
    shown_first = numbers[2] if len(numbers) == 3 else None
    found = load_digest(app.sessions, app.store, digest_id, ctx.chat_id)
    if found is None:
        raise ExpiredButton()
    digest, cards = found
    # The cards it was sent with, whatever /max or /style say now (older buttons: as recorded).
    first = min(cards if shown_first is None else shown_first, len(digest.entries))
    size = app.settings.digest.page_size
    start = first + max(page, 0) * size
    tldrs = cached_tldrs(app, [e.paper.id for e in digest.entries[start : start + size]])
    page_message = list_page(digest.entries, urls=app.urls, digest_id=digest_id, first=first, page=page,
                             page_size=size, tldrs=tldrs)
    return ActionReply(edit=page_message)
