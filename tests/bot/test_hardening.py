"""Hostile input at the bot's edge (issue 10, problems 6, 8 and 10), each with the case that found it.

Everything goes through `app.handle_text` / `app.handle_action`, as every adapter does: odd bytes are
cleaned away, forged buttons expire quietly, no reply quotes more than 200 characters of what it was
sent, a subscription cannot grow without bound, and a group's ranking is its admins'.
"""

from __future__ import annotations

import logging

import pytest

from bot.app import APOLOGY, NOT_ALLOWED
from bot.untrusted import BUTTON_EXPIRED
from digest.clean import MAX_TITLE_CHARS
from digest.feedback import chat_signal
from digest.rss import parse_feed
from digest.subscriptions import MAX_AUTHORS, MAX_CATEGORIES, MAX_KEYWORDS
from tests.bot.test_commands import GROUP_ADMIN, GROUP_MEMBER, PRIVATE, actions, said
from tests.fakes.fake_arxiv import rss_feed, rss_item

PUB = "Tue, 16 Jun 2026 00:00:00 -0400"


@pytest.fixture
def papers(app):
    """Three stored papers of Tue 2026-06-16 in cs.CL (the app's clock day)."""
    items = [rss_item(f"2606.0000{i}", f"Paper number {i} about parsing", categories=("cs.CL",), pub_date=PUB)
             for i in range(1, 4)]
    app.store.record_announcements(parse_feed(rss_feed("cs.CL", items, pub_date=PUB)).announcements)
    return ["2606.00001", "2606.00002", "2606.00003"]


@pytest.fixture
def errors(caplog):
    """ERROR records logged while the test ran (there must be none for bad input)."""
    caplog.set_level(logging.WARNING)
    yield lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- problem 8: forged or odd input ---------------------------------------------------------------


@pytest.mark.parametrize("payload", [
    "pg:9223372036854775808:0",  # the case that found it: OverflowError in SQLite
    "pg:1:99999999999999999999999",
    "pg:-1:0", "pg:1", "pg:a:b", "pg:", "pg:1:2:3", "pg:١:٢",  # Arabic-Indic digits pass str.isdigit
    "sp:x:9223372036854775808", "sp:nokey:0", "sv:99999999999999999999", "sv:-3",
    "nosuchverb:1", "", ":", "\x00", "pg:\x00:\ud800", "x" * 5000,
    "save:not-an-id", "up:../../etc", "card:\x00", "rel:2613.00001", "save:hep-zz/9901001",
    "retry:nosuch:2401.00001", "retry:faq", "retry:",
])
async def test_a_forged_or_stale_button_expires_without_an_error(app, errors, payload):
    reply = await app.handle_action(PRIVATE, payload)
    assert reply.notice in (BUTTON_EXPIRED, "This search has expired. Run /search again.")
    assert not reply.replies and reply.edit is None
    assert not errors()


async def test_a_real_page_button_of_another_chat_expires(app, papers):
    await app.handle_text(PRIVATE, "/subscribe cs.CL")
    await app.handle_text(PRIVATE, "/max 0")
    pages = [a for a in actions(await app.handle_text(PRIVATE, "/digest")) if a.startswith("pg:")]
    other = PRIVATE.__class__(chat_id="console:mallory", kind=PRIVATE.kind, user_id="mallory")
    for payload in pages:
        assert (await app.handle_action(other, payload)).notice == BUTTON_EXPIRED


@pytest.mark.parametrize("line", [
    "/search abc\x00def",  # the case that found it: FTS5 "unterminated string"
    "/search \ud800lone surrogate",  # UnicodeEncodeError
    "/search \x1b[31mred\x1b[0m \x7f\x85",
    "/subscribe cs.CL\x00",
    "/keywords \udfff\x00diffusion",
    "2606.00001\x00",
])
async def test_control_characters_and_lone_surrogates_are_removed_at_the_edge(app, papers, errors, line):
    messages = await app.handle_text(PRIVATE, line)
    text = said(messages)
    assert APOLOGY not in text
    text.encode("utf-8")  # no lone surrogate left in any reply
    assert "\x00" not in text and "\x1b" not in text
    assert not errors()


async def test_search_with_a_nul_byte_searches_the_cleaned_words(app, papers):
    assert "Paper number 1 about parsing" in said(await app.handle_text(PRIVATE, "/search pars\x00ing"))


# --- problem 8: replies echo at most 200 characters -------------------------------------------------


@pytest.mark.parametrize("line", [
    "/subscribe " + "zz.ZZ" * 4000,  # the case that found it: a 20,667-character reply
    "/time " + "9" * 20000,
    "/days " + "x" * 20000,
    "/cross " + "maybe" * 4000,
    "/max " + "1" * 20000,
    "/search cat:" + "q" * 300,
    "/search " + "date:" + "9" * 300,
    "/categories " + "nothing matches this " * 500,
    "/" + "a" * 20000,
    "/paper " + "not-an-id" * 2000,
])
async def test_a_reply_quotes_at_most_200_characters_of_its_input(app, errors, line):
    text = said(await app.handle_text(PRIVATE, line))
    longest_run = max((len(word.strip("'“”.,;")) for word in text.split()), default=0)
    assert longest_run <= 200
    assert len(text) < 1500
    assert not errors()


# --- problem 8: subscriptions have a size -------------------------------------------------------------


async def test_settings_after_3000_keywords_stay_short_because_the_list_is_refused(app):
    # The case that found it: /settings at 109,926 characters after 3,000-term keyword lists.
    many = " ".join(f"word{i}" for i in range(3000))
    refused = said(await app.handle_text(PRIVATE, f"/keywords {many}"))
    assert f"at most {MAX_KEYWORDS} keywords" in refused
    assert app.subscriptions.get_or_default(PRIVATE.chat_id).keywords == ()
    await app.handle_text(PRIVATE, "/keywords " + " ".join(f"word{i}" for i in range(MAX_KEYWORDS)))
    assert len(app.subscriptions.get(PRIVATE.chat_id).keywords) == MAX_KEYWORDS
    await app.handle_text(PRIVATE, "/exclude " + " ".join(f"x{i}" for i in range(MAX_KEYWORDS)))
    await app.handle_text(PRIVATE, "/authors " + ", ".join(f"Author Number{i}" for i in range(MAX_AUTHORS)))
    assert len(said(await app.handle_text(PRIVATE, "/settings"))) < 5000


async def test_too_many_authors_or_too_long_a_term_is_refused_and_said(app):
    names = ", ".join(f"Author {i}" for i in range(MAX_AUTHORS + 1))
    assert f"at most {MAX_AUTHORS} authors" in said(await app.handle_text(PRIVATE, f"/authors {names}"))
    assert "at most 100 characters" in said(await app.handle_text(PRIVATE, "/exclude " + "y" * 500))
    assert app.subscriptions.get_or_default(PRIVATE.chat_id).exclude == ()


async def test_too_many_names_without_commas_are_refused_before_asking_how_to_split(app):
    names = " ".join(f"Given{i} Family{i}" for i in range(MAX_AUTHORS + 1))
    answer = said(await app.handle_text(PRIVATE, f"/authors {names}"))
    assert f"at most {MAX_AUTHORS} authors" in answer
    assert "Did you mean" not in answer


async def test_a_subscription_holds_at_most_200_categories(app):
    from dataclasses import replace

    from digest.errors import BadInput
    from digest.subscriptions import Subscription, check_limits
    from digest.taxonomy import load_taxonomy

    # arXiv has fewer than 200 categories: all of them (and every archive) fit...
    names = [c.id for c in load_taxonomy().categories.values() if not c.is_alias]
    archives = [a.id for a in load_taxonomy().archives()]
    answer = said(await app.handle_text(PRIVATE, "/subscribe " + " ".join(names + archives)))
    assert "Following" in answer
    # ...and the limit is checked on every save, with a message that names it.
    with pytest.raises(BadInput, match=f"at most {MAX_CATEGORIES} categories; this would make 201"):
        check_limits(Subscription(chat_id="x"), MAX_CATEGORIES + 1)
    check_limits(replace(Subscription(chat_id="x"), keywords=("a",) * MAX_KEYWORDS), MAX_CATEGORIES)


# --- problem 6: a huge title is capped where it enters ------------------------------------------------


async def test_a_1_mb_title_becomes_one_short_card_not_hundreds_of_messages(app):
    from adapters.telegram.render import render

    huge = rss_item("2606.00009", "Big " * 250_000, categories=("cs.CL",), pub_date=PUB,
                    abstract="Long abstract. " * 70_000)
    [announcement] = parse_feed(rss_feed("cs.CL", [huge], pub_date=PUB)).announcements
    assert len(announcement.paper.title) <= MAX_TITLE_CHARS
    assert len(announcement.paper.abstract) <= 10_000
    app.store.record_announcements([announcement])
    messages = await app.handle_text(PRIVATE, "/paper 2606.00009")
    payloads = [p for m in messages for p in render(m)]
    assert 1 <= len(payloads) <= 4  # was 257 messages per chat


# --- problem 10: a group's ranking belongs to its admins ----------------------------------------------


async def test_a_group_member_cannot_seed_or_rate_for_the_group(app, papers):
    # The case that found it: /seed and 👍/👎 from a non-admin changed the group's ranking.
    refused = said(await app.handle_text(GROUP_MEMBER, f"/seed {papers[0]}"))
    assert refused == NOT_ALLOWED
    for verb in ("up", "down"):
        reply = await app.handle_action(GROUP_MEMBER, f"{verb}:{papers[1]}")
        assert reply.notice == NOT_ALLOWED[:200] and reply.alert
    assert chat_signal(app.sessions, GROUP_MEMBER.chat_id).empty


async def test_a_group_admin_seeds_and_rates_for_the_group(app, papers):
    assert "Learned from 1 paper" in said(await app.handle_text(GROUP_ADMIN, f"/seed {papers[0]}"))
    await app.handle_action(GROUP_ADMIN, f"down:{papers[1]}")
    signal = chat_signal(app.sessions, GROUP_ADMIN.chat_id)
    assert set(signal.likes) == {papers[0]} and signal.dislikes == {papers[1]}
