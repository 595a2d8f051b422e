"""`/digest` and the digest's buttons: the latest announcement now, and paging through the list.

`/digest` rebuilds the day under the settings the chat has *now* (`show_day`), so a change of
categories, keywords or filters shows at once, with header counts that agree with the list. It
always says which day it shows and why that day: arXiv has not announced yet, there is no
announcement today (weekend, holiday; the next one is named), or arXiv cannot be reached (and
when it will be asked again); a day where nothing matched says so. It never confuses those, and
a failure is never replayed: asking again asks arXiv again.

`/digest YYYY-MM-DD` and `/digest yesterday` (and the header's "day before" button, `dg:<date>`)
show an earlier stored announcement: a thin layer that picks the day and builds it with the
same `show_day`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from zoneinfo import ZoneInfo

from bot.delivery import cached_tldrs, card_tldrs, commit_digest, personal_scores
from bot.feed_watch import day_is_in, expected_day, fetch_day, latest_day_in, local_time, uncovered_feeds
from bot.ports import ChatContext, Reply
from bot.registry import action, command
from digest.calendar import NEW_YORK, feed_time, is_announcement_day, next_announcement_day
from digest.day_index import DayIndex
from digest.digest_store import load_digest, shown_before_day
from digest.errors import BadInput
from digest.layout import format_day, list_page
from digest.matching import Digest, build_digest, subscription_expr
from digest.message import Message, text
from digest.subscriptions import Subscription

log = logging.getLogger(__name__)

FOLLOWS_NOTHING = ("This chat doesn't follow any categories, so there is no digest here. "
                   "Start with e.g. /subscribe cs.CL, or /categories to browse.")


def _local(moment: dt.datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


# --- the digest of day D for chat C under its current settings ------------------------------------


def build_day(app, sub: Subscription, day: dt.date) -> Digest:  # type: ignore[no-untyped-def]
    """The digest of `day` for `sub` as its settings are now.

    Papers a digest of an earlier day showed the chat stay out (as in the scheduled digest);
    papers this day's digest already showed stay in, so a rebuilt day is the whole day.
    """
    index = DayIndex.build(app.store.announced_on(day))
    seen = shown_before_day(app.sessions, sub.chat_id, [p.id for p in index.papers], day)
    return build_digest(index, sub, day, seen=seen, personal=personal_scores(app), covers=(day,))


async def show_day(app, sub: Subscription, day: dt.date, note: str | None = None, *,  # type: ignore[no-untyped-def]
                   advance_schedule: bool = True) -> list[Message]:
    """Build, record (over any earlier digest of that day) and lay out `day` for `sub`.

    With `advance_schedule` the day counts as delivered, so the scheduler does not send it again.
    """
    digest = await asyncio.to_thread(build_day, app, sub, day)
    tldrs = await card_tldrs(app, [(sub, digest)])
    _, messages = await asyncio.to_thread(
        lambda: commit_digest(app, sub, digest, enqueue_messages=False, note=note, tldrs=tldrs, replace=True,
                              advance_schedule=advance_schedule))
    return messages


# --- /digest --------------------------------------------------------------------------------------


async def _make_sure_ingested(app, sub: Subscription, due: dt.date) -> str | None:  # type: ignore[no-untyped-def]
    """Fetch the chat's feeds for `due` now if they are not in; the outcome, or None if not tried.

    A person asking does not wait for the scheduler, and never gets an old failure replayed:
    unless arXiv was asked a moment ago, it is asked again, within the interactive deadline.
    """
    expr = subscription_expr(sub.categories)
    if expr is None or day_is_in(app, sub, due):
        return None
    feeds = uncovered_feeds(app, due, expr)
    if not feeds:
        return None
    return await fetch_day(app, due, feeds, asked_by_user=True)


def _unreachable(app, sub: Subscription, due: dt.date) -> str:  # type: ignore[no-untyped-def]
    when = local_time(app.feed_watch.next_try(due, app.clock()), sub.timezone)
    return f"arXiv can't be reached right now; I'll try again at {when}."


def _note(app, sub: Subscription, due: dt.date, shown: dt.date, now: dt.datetime) -> str | None:  # type: ignore[no-untyped-def]
    """Why the digest shows `shown` rather than a fresher day, in words."""
    today = now.astimezone(NEW_YORK).date()
    if not is_announcement_day(today) and shown == due:
        upcoming = next_announcement_day(today)
        when = _local(feed_time(upcoming), sub.timezone)
        return f"No arXiv announcement today. The next one comes on {format_day(upcoming)} (about {when} your time)."
    if shown < due:
        if app.feed_watch.failing(due):
            return (f"{_unreachable(app, sub, due)} I don't have {format_day(due)} yet; "
                    f"here is {format_day(shown)}, the latest I have.")
        return (f"arXiv has not announced {format_day(due)} yet (due {_local(feed_time(due), sub.timezone)} "
                f"your time). Here is {format_day(shown)}, the latest announcement.")
    return None


@command("digest")
async def digest_command(app, ctx: ChatContext, args: str, reply: Reply | None) -> list[Message]:  # type: ignore[no-untyped-def]
    sub = app.subscriptions.get(ctx.chat_id)
    if sub is None or not sub.categories:
        return [text(FOLLOWS_NOTHING)]
    if args.strip():
        return await earlier_digest(app, ctx, sub, args.strip())
    due = expected_day(app)
    await _make_sure_ingested(app, sub, due)
    shown = await asyncio.to_thread(latest_day_in, app, sub, due)
    if shown is None:
        if app.feed_watch.failing(due):
            return [text(_unreachable(app, sub, due))]
        return [text(f"arXiv has not announced {format_day(due)} yet, and I have no earlier papers stored. "
                     "Your digest will arrive at your delivery time (/settings).")]
    return await show_day(app, sub, shown, _note(app, sub, due, shown, app.clock()))


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


async def earlier_digest(app, ctx: ChatContext, sub: Subscription, words: str) -> list[Message]:  # type: ignore[no-untyped-def]
    """The digest of the announcement on (or last before) a named day, under the chat's current settings.

    Only the newest stored day counts as delivered (as `/digest` does); an earlier day does not
    move the chat's schedule (`last_digest_day`), so no later digest is skipped or rolled.
    """
    now = app.clock()
    wanted = parse_day(words, now.astimezone(ZoneInfo(sub.timezone)).date())
    if wanted > now.astimezone(NEW_YORK).date():
        raise BadInput(f"{format_day(wanted)} is in the future. /digest shows the latest announcement.")
    shown = await asyncio.to_thread(latest_day_in, app, sub, wanted)
    if shown is None:
        return [text(f"I have no arXiv announcement stored from {format_day(wanted)} or before. "
                     "/digest shows the latest one.")]
    note = None if shown == wanted else (f"No arXiv announcement on {format_day(wanted)}; "
                                         f"here is {format_day(shown)}, the one before.")
    return await show_day(app, sub, shown, note, advance_schedule=shown == app.store.latest_announced_day())


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
