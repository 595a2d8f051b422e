"""`/digest` and the digest's buttons: the latest announcement now, and paging through the list.

`/digest` always says which day it shows and why that day: arXiv has not announced yet, there is
no announcement today (weekend, holiday; the next one is named), or the last fetch failed; and a
day where nothing matched says so. It never confuses those with each other.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from bot.delivery import build_digests, card_tldrs, commit_digest, digest_outgoing, feeds_to_ingest, ingest
from bot.ports import ChatContext, Reply
from bot.registry import action, command
from digest.calendar import RSS_DELAY, feed_time, is_announcement_day, latest_announcement_day, next_announcement_day
from digest.digest_store import find_digest, load_digest
from digest.layout import format_day, list_page
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


@action("dg")
async def digest_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    from bot.app import ActionReply

    return ActionReply(replies=await digest_command(app, ctx, "", None))


@action("pg")
async def page_button(app, ctx: ChatContext, args: str, message_id: str | None):  # type: ignore[no-untyped-def]
    """`pg:<digest id>:<page>` turns the compact list's page in place."""
    from bot.app import ActionReply
    from bot.untrusted import MAX_PAGE, MAX_ROW_ID, ExpiredButton, payload_ints

    digest_id, page = payload_ints(args, MAX_ROW_ID, MAX_PAGE)
    found = load_digest(app.sessions, app.store, digest_id, ctx.chat_id)
    if found is None:
        raise ExpiredButton()
    digest, cards = found
    first = min(cards, len(digest.entries))  # the cards it was sent with, whatever /max says now
    page_message = list_page(digest.entries, urls=app.urls, digest_id=digest_id, first=first, page=page,
                             page_size=app.settings.digest.page_size)
    return ActionReply(edit=page_message)
