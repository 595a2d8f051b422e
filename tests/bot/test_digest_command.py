"""`/digest`: which day it shows and why, never confusing "not yet", "no announcement today",
"nothing matched" and "couldn't fetch"; and the long-day layout with paging buttons.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.ports import ChatContext
from digest.message import Link, Message
from digest.schema import DigestRow, SentPaperRow
from tests.fakes.fake_arxiv import Reply, rss_feed, rss_item

CHAT = ChatContext(chat_id="console:alice")
NEW_YORK = ZoneInfo("America/New_York")


def pub(day: dt.date) -> str:
    return email.utils.format_datetime(dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK))


def feed(day: dt.date, n: int, *, cats: str = "cs.CL", prefix: str = "Paper", start: int = 1) -> bytes:
    yymm = day.strftime("%y%m")
    items = [rss_item(f"{yymm}.{start + i:05d}", f"{prefix} {start + i}", categories=(cats,), pub_date=pub(day))
             for i in range(n)]
    return rss_feed(cats, items, pub_date=pub(day))


def said(messages: list[Message]) -> str:
    return "\n".join(m.plain_text() for m in messages)


def actions(messages: list[Message]) -> list[str]:
    return [b.action for m in messages for row in m.buttons for b in row if b.action]


def titles(messages: list[Message]) -> list[str]:
    return [s.text for m in messages for b in m.blocks[:1] for s in getattr(b, "spans", ()) if isinstance(s, Link)]


async def subscribe(app, line: str = "/subscribe cs.CL") -> None:  # type: ignore[no-untyped-def]
    await app.handle_text(CHAT, line)


async def digest(app) -> list[Message]:  # type: ignore[no-untyped-def]
    return await app.handle_text(CHAT, "/digest")


TUE = dt.date(2026, 6, 16)
MON = dt.date(2026, 6, 15)


async def test_a_normal_day_shows_the_header_and_a_card_per_paper(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 3)
    await subscribe(app)
    messages = await digest(app)
    header = messages[0].plain_text()
    assert "Tue 16 Jun 2026" in header and "3 new and 0 cross-listed" in header and "3 for you" in header
    assert titles(messages[1:]) == ["Paper 1", "Paper 2", "Paper 3"]
    assert [m.plain_text().startswith(f"{n}. ") for n, m in enumerate(messages[1:], start=1)] == [True] * 3
    assert "not announced" not in said(messages) and "couldn't" not in said(messages)


async def test_a_day_where_nothing_matched_says_so(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 3)
    await subscribe(app)
    await app.handle_text(CHAT, "/keywords only zebrafish")
    messages = await digest(app)
    text = said(messages)
    assert "Nothing matched your filters" in text and "Tue 16 Jun 2026" in text
    assert len(messages) == 1
    assert "not announced" not in text and "No arXiv announcement" not in text


async def test_before_the_feed_is_rebuilt_it_says_not_announced_yet_and_shows_the_previous_day(app, fake_arxiv, clock):
    clock.set("2026-06-16 05:00")  # 01:00 in New York: Tuesday's feed is due but still dated Monday
    fake_arxiv.rss["cs.CL"] = feed(MON, 2, prefix="Monday")
    await subscribe(app)
    messages = await digest(app)
    text = said(messages)
    assert "has not announced Tue 16 Jun 2026 yet" in text
    assert "Here is Mon 15 Jun 2026" in text and "Mon 15 Jun 2026" in messages[0].plain_text()
    assert titles(messages) == ["Monday 1", "Monday 2"]
    assert "couldn't" not in text


async def test_with_nothing_stored_yet_not_announced_is_still_not_a_failure(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", [], pub_date=pub(TUE))
    await subscribe(app)
    text = said(await digest(app))
    assert "has not announced Tue 16 Jun 2026 yet" in text and "couldn't" not in text


@pytest.mark.parametrize(
    ("now", "feed_day", "next_day"),
    [
        pytest.param("2026-06-20 14:00", dt.date(2026, 6, 19), "Tue 23 Jun 2026", id="weekend-after-juneteenth"),
        pytest.param("2026-06-13 14:00", dt.date(2026, 6, 12), "Mon 15 Jun 2026", id="plain-saturday"),
        pytest.param("2026-11-27 15:00", dt.date(2026, 11, 26), "Mon 30 Nov 2026", id="thanksgiving-friday"),
    ],
)
async def test_a_day_without_announcement_names_the_next_one_and_shows_the_latest(app, fake_arxiv, clock, now, feed_day, next_day):
    clock.set(now)
    fake_arxiv.rss["cs.CL"] = feed(feed_day, 2)
    await subscribe(app)
    messages = await digest(app)
    text = said(messages)
    assert "No arXiv announcement today" in text and f"next one comes on {next_day}" in text
    assert f"{feed_day:%a} {feed_day.day} {feed_day:%b %Y}" in messages[0].plain_text()
    assert "not announced" not in text and "couldn't" not in text
    assert len(titles(messages)) == 2


async def test_a_failed_fetch_says_couldnt_fetch_never_not_announced(app, fake_arxiv):
    fake_arxiv.script("/rss/cs.CL", Reply.html_error())
    await subscribe(app)
    text = said(await digest(app))
    assert "couldn't reach arXiv" in text
    assert "not announced" not in text


async def test_a_failed_fetch_after_an_earlier_day_shows_that_day_and_says_why(app, fake_arxiv, clock):
    clock.set("2026-06-15 12:00")
    fake_arxiv.rss["cs.CL"] = feed(MON, 2, prefix="Monday")
    await subscribe(app)
    await digest(app)
    clock.set("2026-06-16 12:00")
    fake_arxiv.script("/rss/cs.CL", Reply.html_error())
    messages = await digest(app)
    text = said(messages)
    assert "couldn't fetch arXiv's feed for Tue 16 Jun 2026" in text and "Mon 15 Jun 2026" in text
    assert "not announced" not in text


async def test_after_a_failed_fetch_digest_asks_arxiv_again_only_after_ten_minutes(app, fake_arxiv, clock):
    fake_arxiv.script("/rss/cs.CL", Reply.html_error())
    await subscribe(app)
    assert "couldn't reach arXiv" in said(await digest(app))
    fake_arxiv.rss["cs.CL"] = feed(TUE, 2)
    clock.advance(minutes=5)
    assert "couldn't reach arXiv" in said(await digest(app))  # too soon: arXiv is not asked again
    assert len(fake_arxiv.requests_to("/rss")) == 1
    clock.advance(minutes=6)
    assert "2 for you" in said(await digest(app))
    assert len(fake_arxiv.requests_to("/rss")) == 2


async def test_a_chat_without_a_subscription_is_told_how_to_start(app, fake_arxiv):
    text = said(await digest(app))
    assert "doesn't follow anything" in text and "/subscribe" in text
    assert fake_arxiv.requests_to("/rss") == []


async def test_asking_again_for_the_same_day_shows_the_same_digest_without_marking_again(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 4)
    await subscribe(app)
    first = await digest(app)
    with app.sessions() as session:
        marks = session.scalar(select(func.count()).select_from(SentPaperRow))
    second = await digest(app)
    assert titles(second) == titles(first) and len(titles(first)) == 4
    assert "4 for you" in second[0].plain_text()
    with app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SentPaperRow)) == marks == 4
        assert session.scalar(select(func.count()).select_from(DigestRow)) == 1
    assert len(fake_arxiv.requests_to("/rss")) == 1  # the day is complete: no second fetch


async def test_the_show_latest_button_after_subscribing_gives_the_digest(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 2)
    messages = await app.handle_text(CHAT, "/subscribe cs.CL")
    reply = await app.handle_action(CHAT, "dg:now")
    assert "Tue 16 Jun 2026" in said(reply.replies)
    assert "dg:now" in actions(messages)


# --- a long day -----------------------------------------------------------------------------------


async def test_a_long_day_pages_past_the_cards_and_every_paper_stays_reachable(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 30)
    await subscribe(app)
    await app.handle_text(CHAT, "/max 5")
    messages = await digest(app)
    assert len(messages) == 1 + 5 + 1  # header, five cards, the compact list
    assert "30 for you" in messages[0].plain_text()
    listing = messages[-1]
    assert "More papers 6–15 of 30" in listing.plain_text() and "page 1/3" in listing.plain_text()
    list_actions = actions([listing])
    pages = [a for a in list_actions if a.startswith("pg:")]
    assert sorted(set(pages)) == [f"pg:{pages[0].split(':')[1]}:{p}:5" for p in (0, 1, 2)]  # 1, 2, 3 and Next
    digest_id = pages[0].split(":")[1]

    turned = await app.handle_action(CHAT, f"pg:{digest_id}:1")
    assert turned.edit is not None and not turned.replies
    assert "More papers 16–25 of 30" in turned.edit.plain_text() and "page 2/3" in turned.edit.plain_text()
    nav = [b for row in turned.edit.buttons for b in row if b.action and b.action.startswith("pg:")]
    assert [b.label for b in nav] == ["1", "· 2 ·", "3", "◀ Previous", "Next ▶"]
    assert [b.action for b in nav][-2:] == [f"pg:{digest_id}:0:5", f"pg:{digest_id}:2:5"]

    last = await app.handle_action(CHAT, f"pg:{digest_id}:2")
    assert "26–30 of 30" in last.edit.plain_text()

    seen = set()
    for message in [*messages[1:6]]:
        seen.update(a.split(":", 1)[1] for a in actions([message]) if a.startswith("save:"))
    for page in (listing, turned.edit, last.edit):
        seen.update(a.split(":", 1)[1] for a in actions([page]) if a.startswith("card:"))
    assert len(seen) == 30


async def test_a_number_button_of_the_list_opens_that_papers_card(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 12)
    await subscribe(app)
    await app.handle_text(CHAT, "/max 2")
    messages = await digest(app)
    number = next(b for row in messages[-1].buttons for b in row if b.label == "3")
    opened = await app.handle_action(CHAT, number.action)
    assert titles(opened.replies) == ["Paper 3"]
    assert f"faq:{number.action.split(':', 1)[1]}" in actions(opened.replies)
    assert fake_arxiv.requests_to("/api") == []  # served from the store


async def test_a_page_number_out_of_range_shows_the_nearest_page(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 30)
    await subscribe(app)
    messages = await digest(app)
    digest_id = next(a for a in actions(messages) if a.startswith("pg:")).split(":")[1]
    reply = await app.handle_action(CHAT, f"pg:{digest_id}:99")
    assert reply.edit is not None and "of 30" in reply.edit.plain_text()


async def test_a_chat_following_a_category_nobody_fetched_yet_gets_it_not_an_empty_digest(app, fake_arxiv):
    language = [rss_item(f"2606.{i:05d}", f"Language {i}", categories=("cs.CL",), pub_date=pub(TUE)) for i in (1, 2)]
    vision = [rss_item(f"2606.{i:05d}", f"Vision {i}", categories=("cs.CV",), pub_date=pub(TUE)) for i in (50, 51, 52)]
    for cats, items in (("cs.CL", language), ("cs.CV", vision), ("cs.CL+cs.CV", language + vision), ("cs.CV+cs.CL", language + vision)):
        fake_arxiv.rss[cats] = rss_feed(cats, items, pub_date=pub(TUE))
    await subscribe(app)  # cs.CL
    assert len(titles(await digest(app))) == 2
    viewer = ChatContext(chat_id="console:bob")
    await app.handle_text(viewer, "/subscribe cs.CV")
    messages = await app.handle_text(viewer, "/digest")
    assert "Nothing matched" not in said(messages)
    assert titles(messages) == ["Vision 50", "Vision 51", "Vision 52"]


async def test_a_recent_failure_is_not_refetched_on_every_digest_request(app, fake_arxiv):
    fake_arxiv.script("/rss/cs.CL", Reply.html_error())
    await subscribe(app)
    await digest(app)
    await digest(app)
    assert len(fake_arxiv.requests_to("/rss")) == 1


async def test_saving_a_digest_card_keeps_its_number_and_reason(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 3)
    await subscribe(app)
    await app.handle_text(CHAT, "/keywords \"Paper 2\"")
    messages = await digest(app)
    first_card = messages[1]
    assert "1. " in first_card.plain_text() and "matches “Paper 2”" in first_card.plain_text()
    save = next(a for a in actions([first_card]) if a.startswith("save:"))
    reply = await app.handle_action(CHAT, save)
    assert reply.notice == "Saved"
    redrawn = reply.edit.plain_text()
    assert redrawn.startswith("1. ") and "matches “Paper 2”" in redrawn
    assert "★ Saved" in [b.label for row in reply.edit.buttons for b in row]
