"""Reading comfort: the compact style, page numbers, earlier days, and commands that behave as people expect.

Driven through `app.handle_text` / `app.handle_action`, as an adapter would.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.ports import ChatContext, ChatKind
from digest.message import Link, Message
from digest.models import Announcement, AnnounceType, Paper
from tests.bot.test_digest_command import TUE, feed

CHAT = ChatContext(chat_id="console:alice")
MEMBER = ChatContext(chat_id="console:group", kind=ChatKind.GROUP, user_id="bob", can_manage=False)
MON, FRI = dt.date(2026, 6, 15), dt.date(2026, 6, 12)


def said(messages: list[Message]) -> str:
    return "\n".join(m.plain_text() for m in messages)


def buttons(messages: list[Message]):  # type: ignore[no-untyped-def]
    return [b for m in messages for row in m.buttons for b in row]


def actions(messages: list[Message]) -> list[str]:
    return [b.action for b in buttons(messages) if b.action]


async def ask(app, line: str, ctx: ChatContext = CHAT) -> list[Message]:  # type: ignore[no-untyped-def]
    return await app.handle_text(ctx, line)


def store_day(app, day: dt.date, n: int, prefix: str) -> list[Paper]:  # type: ignore[no-untyped-def]
    """Papers announced on an earlier `day`, stored as an earlier ingest would have left them."""
    papers = [Paper(id=f"{day:%y%m}.{9000 + i:05d}", title=f"{prefix} {i}", authors=("Ada Lovelace",),
                    abstract="An abstract.", categories=("cs.CL",), primary_category="cs.CL") for i in range(n)]
    app.store.upsert_papers(papers)
    app.store.record_announcements([Announcement(p, day, AnnounceType.NEW) for p in papers])
    return papers


# --- the compact style -------------------------------------------------------------------------


async def test_a_long_day_comes_compact_by_default_a_line_a_paper(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 45)
    await ask(app, "/subscribe cs.CL")
    messages = await ask(app, "/digest")
    header, listing = messages
    assert "45 for you" in header.plain_text()  # the header still counts everything
    assert "Papers 1–10 of 45 · page 1/5" in listing.plain_text()
    assert not any(a.startswith("save:") for a in actions(messages))  # no cards
    lines = listing.plain_text().split("\n\n")[1:]
    assert len(lines) == 10 and all(line.count("\n") <= 1 for line in lines)  # one or two lines a paper
    assert isinstance(listing.blocks[1].spans[1], Link)  # a linked title
    third = [a for a in actions([listing]) if a.startswith("card:")][2]
    card = await app.handle_action(CHAT, third)
    assert any(a.startswith("save:") for a in actions(card.replies))  # a number opens the full card
    assert card.replies[0].plain_text().startswith("3. ") and "⭐ new in cs.CL" in card.replies[0].plain_text()
    assert "Announced 16 Jun 2026" in card.replies[0].plain_text()


async def test_a_short_day_keeps_cards_and_the_style_is_chosen_per_chat(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 12)
    await ask(app, "/subscribe cs.CL")
    assert "Style: auto (compact on days with more than 30 papers" in said(await ask(app, "/settings"))
    assert len(await ask(app, "/digest")) == 1 + 5 + 1  # 12 papers: five cards, then the list
    await ask(app, "/style compact")
    assert app.subscriptions.get(CHAT.chat_id).style == "compact"
    messages = await ask(app, f"/digest {TUE.isoformat()}")  # the same day again, in the new style
    assert len(messages) == 2 and "Papers 1–10 of 12" in messages[1].plain_text()
    following = next(a for a in actions(messages) if a.startswith("pg:") and a.split(":")[2] == "1")
    assert "Papers 11–12 of 12" in (await app.handle_action(CHAT, following)).edit.plain_text()


async def test_the_cards_style_shows_cards_whatever_the_day(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 45)
    await ask(app, "/subscribe cs.CL")
    await ask(app, "/style cards")
    messages = await ask(app, "/digest")
    assert len(messages) == 1 + 5 + 1 and "More papers 6–15 of 45" in messages[-1].plain_text()


async def test_style_without_a_word_shows_it_and_a_bad_word_says_what_works(app):
    assert "Digest style" in said(await ask(app, "/style")) and "/style compact" in said(await ask(app, "/style"))
    answer = said(await ask(app, "/style tiny"))
    assert "not a style" in answer and app.subscriptions.get(CHAT.chat_id) is None


async def test_page_numbers_offer_the_first_nearby_and_last_pages(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 95)
    await ask(app, "/subscribe cs.CL")
    listing = (await ask(app, "/digest"))[-1]
    digest_id = next(a for a in actions([listing]) if a.startswith("pg:")).split(":")[1]
    middle = (await app.handle_action(CHAT, f"pg:{digest_id}:4")).edit
    labels = [b.label for b in buttons([middle]) if b.action and b.action.startswith("pg:")]
    assert labels == ["1", "4", "· 5 ·", "6", "10", "◀ Previous", "Next ▶"]
    assert "Papers 41–50 of 95 · page 5/10" in middle.plain_text()
    last = (await app.handle_action(CHAT, f"pg:{digest_id}:9")).edit
    assert [b.label for b in buttons([last]) if b.action.startswith("pg:")] == ["1", "9", "· 10 ·", "◀ Previous"]


# --- earlier days ----------------------------------------------------------------------------------


async def test_digest_of_an_earlier_day_and_the_day_before_button(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 3)
    store_day(app, MON, 4, "Monday paper")
    await ask(app, "/subscribe cs.CL")
    latest = await ask(app, "/digest")
    assert "Tue 16 Jun 2026" in said(latest)
    assert f"dg:{MON.isoformat()}" in actions(latest[:1])  # the header offers the day before

    earlier = await ask(app, f"/digest {MON.isoformat()}")
    assert "Mon 15 Jun 2026" in said(earlier[:1]) and "Monday paper 0" in said(earlier)
    pressed = await app.handle_action(CHAT, f"dg:{MON.isoformat()}")
    assert "Monday paper 0" in said(pressed.replies)
    # Looking back does not move the schedule: the chat's latest digest is still Tuesday's.
    assert app.subscriptions.get(CHAT.chat_id).last_digest_day == TUE


async def test_digest_yesterday_and_a_day_without_announcement(app, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 3)
    store_day(app, FRI, 2, "Friday paper")
    await ask(app, "/subscribe cs.CL")
    yesterday = said(await ask(app, "/digest yesterday"))  # Mon 15 Jun: nothing stored, so Friday
    assert "Friday paper 0" in yesterday and "Fri 12 Jun 2026" in yesterday
    sunday = said(await ask(app, "/digest 2026-06-14"))
    assert "No arXiv announcement on Sun 14 Jun 2026" in sunday and "Friday paper 1" in sunday


@pytest.mark.parametrize(("words", "expected"), [
    ("last week", "not a day"),
    ("2026-13-01", "not a day"),
    ("2027-01-01", "in the future"),
    ("2020-01-01", "no arXiv announcement stored"),
])
async def test_digest_of_a_bad_or_unknown_day_says_why(app, fake_arxiv, words, expected):
    fake_arxiv.rss["cs.CL"] = feed(TUE, 3)
    await ask(app, "/subscribe cs.CL")
    assert expected in said(await ask(app, f"/digest {words}")).replace("I have no", "no")


# --- commands behave as people expect ---------------------------------------------------------------


@pytest.mark.parametrize(("command", "shown"), [
    ("/max", "Cards per digest: 5"),
    ("/cross", "Cross-listed papers: included"),
    ("/replacements", "New versions of older papers: left out"),
    ("/time", "Delivery time: 08:00 (UTC)"),
    ("/days", "Delivery days: mon, tue"),
    ("/style", "Digest style: auto"),
    ("/subscribe", "This chat follows: cs.CL"),
])
async def test_a_setter_without_argument_shows_the_value_and_usage(app, command, shown):
    await ask(app, "/subscribe cs.CL")
    answer = said(await ask(app, command))
    assert shown in answer and "Usage" in answer


async def test_a_group_member_may_look_at_a_setting_but_not_change_it(app):
    await ask(app, "/max", MEMBER)
    assert "Cards per digest" in said(await ask(app, "/max", MEMBER))
    assert "admins" in said(await ask(app, "/max 9", MEMBER))
    assert "admins" in said(await ask(app, "/unsubscribe", MEMBER))


@pytest.mark.parametrize(("follows", "line", "left"), [
    ("cs.AI+cs.LG-cs.CY", "/unsubscribe -cs.CY", "cs.AI+cs.LG"),
    ("cs.AI+cs.LG-cs.CY", "/unsubscribe cs.CY", "cs.AI+cs.LG"),  # only the exclusion was left of it
    ("cs-cs.CY", "/unsubscribe cs.CY", "cs"),
    ("cs.AI+cs.LG-cs.CY", "/unsubscribe cs.LG", "cs.AI-cs.CY"),
    ("cs.AI+cs.LG-cs.CY", "/unsubscribe -cs.CY cs.LG", "cs.AI"),
])
async def test_an_exclusion_can_be_removed(app, follows, line, left):
    await ask(app, f"/subscribe {follows}")
    answer = said(await ask(app, line))
    assert app.subscriptions.get(CHAT.chat_id).categories == left
    assert "Still following" in answer


async def test_unsubscribing_from_what_the_chat_does_not_follow_says_so(app):
    await ask(app, "/subscribe cs.AI-cs.CY")
    answer = said(await ask(app, "/unsubscribe math.PR"))
    assert "doesn't follow math.PR" in answer and app.subscriptions.get(CHAT.chat_id).categories == "cs.AI-cs.CY"


async def test_categories_pages_through_long_lists_and_ticks_what_the_chat_follows(app):
    await ask(app, "/subscribe cs.CL")
    [first] = await ask(app, "/categories cs")
    assert "page 1/" in first.plain_text()
    pages = int(first.plain_text().split("page 1/")[1].split()[0])
    seen = {b.label.split()[-1] for b in buttons([first]) if b.action.startswith("sub:")}
    labels = [b.label for b in buttons([first])]
    for page in range(1, pages):
        turned = await app.handle_action(CHAT, f"cats:cs:{page}")
        seen |= {b.label.split()[-1] for b in buttons([turned.edit]) if b.action.startswith("sub:")}
        labels += [b.label for b in buttons([turned.edit])]
    assert len(seen) >= 38  # every category of cs has a button on some page
    assert "✓ cs.CL" in labels and "+ cs.CL" not in labels and "+ cs.AI" in labels


async def test_authors_without_commas_asks_how_to_split_the_names(app):
    answer = await ask(app, "/authors Yann LeCun Fei-Fei Li")
    assert "“Yann LeCun”; “Fei-Fei Li”" in said(answer)
    assert app.subscriptions.get(CHAT.chat_id) is None or not app.subscriptions.get(CHAT.chat_id).authors
    confirmed = await app.handle_action(CHAT, "au:split")
    assert app.subscriptions.get(CHAT.chat_id).authors == ("Yann LeCun", "Fei-Fei Li")
    assert "Fei-Fei Li" in confirmed.edit.plain_text()
    await ask(app, "/authors Juan Carlos Niebles")
    await app.handle_action(CHAT, "au:one")
    assert app.subscriptions.get(CHAT.chat_id).authors == ("Juan Carlos Niebles",)
    stale = await app.handle_action(CHAT, "au:one")
    assert "expired" in stale.notice


async def test_authors_with_commas_or_one_name_need_no_confirmation(app):
    await ask(app, "/authors Yann LeCun, Fei-Fei Li")
    assert app.subscriptions.get(CHAT.chat_id).authors == ("Yann LeCun", "Fei-Fei Li")
    await ask(app, "/authors Hinton")
    assert app.subscriptions.get(CHAT.chat_id).authors == ("Hinton",)


@pytest.mark.parametrize(("typed", "suggested"), [
    ("/subscibe cs.CL", "/subscribe"), ("/stlye", "/style"), ("/dgest", "/digest"), ("/Settigns", "/settings"),
])
async def test_an_unknown_command_gets_the_nearest_one(app, typed, suggested):
    assert f"Did you mean {suggested}?" in said(await ask(app, typed))


async def test_a_command_far_from_any_gets_no_guess(app):
    answer = said(await ask(app, "/xyzzyplugh"))
    assert "Did you mean" not in answer and "/help" in answer


# --- layout details ------------------------------------------------------------------------------------


def test_compact_lines_carry_the_tldr_and_a_notable_reason_badge():
    from digest.cards import ArxivUrls
    from digest.layout import digest_messages
    from digest.matching import Digest, DigestCounts, DigestEntry

    papers = [Paper(id=f"2606.{i:05d}", title=f"Title {i}", authors=("Ada Lovelace", "Alan Turing", "Grace Hopper"),
                    abstract="x", categories=("cs.CL",)) for i in range(1, 41)]
    entries = tuple(DigestEntry(p, "new", "by Ada Lovelace" if i == 0 else "new in cs.CL", notable=i == 0)
                    for i, p in enumerate(papers))
    digest = Digest(chat_id="c", day=TUE, entries=entries, counts=DigestCounts(new=40, cross=0, matched=40), covers=(TUE,))
    header, listing = digest_messages(digest, urls=ArxivUrls(), digest_id=1, max_cards=5, page_size=10,
                                      tldrs={papers[0].id: "Widgets, but sparse."}, style="auto")
    first, second = listing.plain_text().split("\n\n")[1:3]
    assert first == ("1. Title 1 — Ada Lovelace, Alan Turing +1 more · ⭐ by Ada Lovelace\n"
                     "   Widgets, but sparse.")
    assert second == "2. Title 2 — Ada Lovelace, Alan Turing +1 more"  # the usual reason is not repeated
