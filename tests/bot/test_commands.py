"""Talking to the bot: every command through `app.handle_text` / `app.handle_action`, as an adapter would.

Bad input always gets an answer that says what is accepted; nothing a user types or a forged
button payload can make a handler raise.
"""

from __future__ import annotations

import pytest

from bot.ports import ChatContext, ChatKind
from digest.message import Link, Message
from digest.taxonomy import load_taxonomy
from tests.fakes.fake_arxiv import atom_entry, atom_feed

PRIVATE = ChatContext(chat_id="console:alice", kind=ChatKind.PRIVATE, user_id="alice")
GROUP_MEMBER = ChatContext(chat_id="console:group", kind=ChatKind.GROUP, user_id="bob", can_manage=False)
GROUP_ADMIN = ChatContext(chat_id="console:group", kind=ChatKind.GROUP, user_id="carol", can_manage=True)


def said(messages: list[Message]) -> str:
    return "\n".join(m.plain_text() for m in messages)


def actions(messages: list[Message]) -> list[str]:
    return [b.action for m in messages for row in m.buttons for b in row if b.action]


async def ask(app, line: str, ctx: ChatContext = PRIVATE) -> str:  # type: ignore[no-untyped-def]
    return said(await app.handle_text(ctx, line))


# --- welcome ------------------------------------------------------------------------------------


async def test_start_welcomes_with_category_buttons_that_subscribe(app):
    messages = await app.handle_text(PRIVATE, "/start")
    buttons = actions(messages)
    assert "paperboy" in said(messages)
    popular = [c.id for c in load_taxonomy().popular_categories()[:12]]
    assert buttons == [f"sub:{cat}" for cat in popular]  # one button per popular category, in order
    assert "sub:cs.CL" in buttons
    reply = await app.handle_action(PRIVATE, "sub:cs.CL")
    assert app.subscriptions.get(PRIVATE.chat_id).categories == "cs.CL"
    assert reply.replies and "Following" in said(reply.replies)


@pytest.mark.parametrize(("payload", "expected"), [
    ("cs_CL", {"cs.CL"}),
    ("cs_AI__q-bio_NC", {"cs.AI", "q-bio.NC"}),
    ("hep-th", {"hep-th"}),
])
async def test_a_start_deep_link_subscribes_in_one_tap(app, payload, expected):
    answer = await ask(app, f"/start {payload}")
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert set(sub.categories.split("+")) == expected
    for cat in expected:
        assert cat in answer


async def test_a_start_deep_link_from_a_group_member_only_welcomes(app):
    answer = await ask(app, "/start cs_CL", GROUP_MEMBER)
    assert "paperboy" in answer
    assert app.subscriptions.get(GROUP_MEMBER.chat_id) is None


async def test_help_lists_the_commands(app):
    answer = await ask(app, "/help")
    for name in ("/subscribe", "/digest", "/paper", "/time", "/keywords"):
        assert name in answer


async def test_commands_addressed_to_the_bot_by_name_work(app):
    await ask(app, "/subscribe@paperboy_bot cs.CL")
    assert app.subscriptions.get(PRIVATE.chat_id).categories == "cs.CL"


# --- subscribing ------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["cs.CL", "cs.cl", "CS.CL"])
async def test_subscribe_accepts_a_category_in_any_case(app, typed):
    answer = await ask(app, f"/subscribe {typed}")
    assert app.subscriptions.get(PRIVATE.chat_id).categories == "cs.CL"
    assert "Following" in answer and "Computation and Language" in answer


async def test_subscribe_offers_to_show_the_latest_papers_but_sends_nothing_by_itself(app, sender):
    messages = await app.handle_text(PRIVATE, "/subscribe cs.CL")
    assert "dg:now" in actions(messages)
    assert await app.deliver_pending() == 0 and sender.sent == []


async def test_subscribe_adds_to_what_the_chat_already_follows(app):
    await ask(app, "/subscribe cs.CL")
    await ask(app, "/subscribe cs.LG")
    categories = app.subscriptions.get(PRIVATE.chat_id).categories
    assert "cs.CL" in categories and "cs.LG" in categories


async def test_subscribe_takes_cool_papers_algebra(app):
    await ask(app, "/subscribe cs.AI+cs.LG-cs.CY")
    categories = app.subscriptions.get(PRIVATE.chat_id).categories
    assert "cs.AI" in categories and "cs.LG" in categories and "-cs.CY" in categories


async def test_a_category_name_in_words_gets_a_suggestion(app):
    answer = await ask(app, "/subscribe computation and language")
    assert "cs.CL" in answer
    assert app.subscriptions.get(PRIVATE.chat_id) is None or not app.subscriptions.get(PRIVATE.chat_id).categories


@pytest.mark.parametrize("typed", ["foo.bar", "zz.QQ"])
async def test_an_unknown_category_gets_a_helpful_error(app, typed):
    answer = await ask(app, f"/subscribe {typed}")
    assert typed in answer and "/categories" in answer
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert sub is None or not sub.categories


async def test_subscribe_without_categories_says_how(app):
    assert "/subscribe cs.CL" in await ask(app, "/subscribe")


async def test_unsubscribe_one_category_keeps_the_others(app):
    await ask(app, "/subscribe cs.CL cs.LG")
    answer = await ask(app, "/unsubscribe cs.LG")
    assert app.subscriptions.get(PRIVATE.chat_id).categories == "cs.CL"
    assert "cs.CL" in answer


@pytest.mark.parametrize(("follows", "drop", "left"), [
    ("cs.CL astro-ph", "astro-ph", "cs.CL"),
    ("cs", "cs.CY", "cs-cs.CY"),
    ("cs.AI q-bio.NC", "q-bio.NC", "cs.AI"),
])
async def test_unsubscribe_takes_archives_and_hyphenated_names(app, follows, drop, left):
    await ask(app, f"/subscribe {follows}")
    answer = await ask(app, f"/unsubscribe {drop}")
    assert app.subscriptions.get(PRIVATE.chat_id).categories == left
    assert "Still following" in answer


async def test_following_lines_name_hyphenated_categories_whole(app):
    answer = await ask(app, "/subscribe hep-th+q-bio.NC-cs.CY cs.AI")
    assert "hep-th (High Energy Physics - Theory)" in answer and "q-bio.NC (Neurons and Cognition)" in answer
    assert "-cs.CY (Computers and Society)" in answer


@pytest.mark.parametrize("line", ["/unsubscribe", "/unsubscribe cs.CL"])
async def test_unsubscribing_everything_stops_digests_but_keeps_keywords(app, line):
    await ask(app, "/subscribe cs.CL")
    await ask(app, "/keywords diffusion")
    await ask(app, line)
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert sub.categories == ""
    assert sub.keywords == ("diffusion",)


async def test_unsubscribe_when_following_nothing_says_so(app):
    assert "doesn't follow" in await ask(app, "/unsubscribe")


# --- filters --------------------------------------------------------------------------------------


async def test_keywords_take_quoted_phrases(app):
    answer = await ask(app, '/keywords diffusion "language model", RLHF')
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert sub.keywords == ("diffusion", "language model", "RLHF")
    assert not sub.keywords_only
    assert "language model" in answer


async def test_keywords_only_shows_only_matches_and_off_clears(app):
    await ask(app, "/keywords only transformer")
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert sub.keywords == ("transformer",) and sub.keywords_only
    await ask(app, "/keywords off")
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert sub.keywords == () and not sub.keywords_only


async def test_keywords_without_words_shows_the_current_ones(app):
    await ask(app, "/keywords diffusion")
    assert "diffusion" in await ask(app, "/keywords")


async def test_exclude_sets_and_clears_words(app):
    await ask(app, '/exclude survey "position paper"')
    assert app.subscriptions.get(PRIVATE.chat_id).exclude == ("survey", "position paper")
    await ask(app, "/exclude off")
    assert app.subscriptions.get(PRIVATE.chat_id).exclude == ()


async def test_authors_are_split_on_commas_not_spaces(app):
    await ask(app, "/authors Yann LeCun, Fei-Fei Li; Yann LeCun")
    assert app.subscriptions.get(PRIVATE.chat_id).authors == ("Yann LeCun", "Fei-Fei Li")


# --- delivery settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "time", "zone"), [
    ("/time 07:30", "07:30", "UTC"),
    ("/time 7pm Europe/Berlin", "19:00", "Europe/Berlin"),
    ("/time 8h15 asia/shanghai", "08:15", "Asia/Shanghai"),
])
async def test_time_sets_the_delivery_time_and_zone(app, line, time, zone):
    answer = await ask(app, line)
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert (sub.delivery_time, sub.timezone) == (time, zone)
    assert time in answer and zone in answer


@pytest.mark.parametrize(("line", "hint"), [
    ("/time 25:00", "00-23"),
    ("/time noonish", "HH:MM"),
    ("/time 08:00 Mars/Olympus", "Area/City"),
    ("/time 08:00 +0200", "Area/City"),
    ("/time", "/time HH:MM"),
])
async def test_a_bad_time_or_zone_says_what_is_accepted_and_changes_nothing(app, line, hint):
    await ask(app, "/subscribe cs.CL")
    answer = await ask(app, line)
    assert hint in answer
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert (sub.delivery_time, sub.timezone) == ("08:00", "UTC")


async def test_a_zone_typo_suggests_close_names(app):
    assert "Europe/Berlin" in await ask(app, "/time 08:00 berlin")


@pytest.mark.parametrize(("typed", "stored"), [
    ("mon-fri", "mon,tue,wed,thu,fri"), ("mon,wed,fri", "mon,wed,fri"), ("weekends", "sat,sun"), ("daily", "mon,tue,wed,thu,fri,sat,sun"),
])
async def test_days_sets_the_weekdays(app, typed, stored):
    await ask(app, f"/days {typed}")
    assert app.subscriptions.get(PRIVATE.chat_id).weekdays == stored


async def test_bad_days_say_what_is_accepted(app):
    assert "mon-fri" in await ask(app, "/days someday")


@pytest.mark.parametrize(("typed", "stored"), [("10", 10), ("0", 0)])
async def test_max_sets_how_many_cards_a_digest_shows(app, typed, stored):
    await ask(app, f"/max {typed}")
    assert app.subscriptions.get(PRIVATE.chat_id).max_papers == stored


@pytest.mark.parametrize("typed", ["lots", "-1", "500"])
async def test_a_bad_max_says_the_range(app, typed):
    assert "0 to 50" in await ask(app, f"/max {typed}")


async def test_settings_reflect_every_change(app):
    for line in ("/subscribe cs.CL", "/keywords only diffusion", "/exclude survey", "/authors Ada Lovelace",
                 "/time 09:45 Europe/Berlin", "/days mon-fri", "/max 7", "/cross off"):
        await ask(app, line)
    answer = await ask(app, "/settings")
    for fragment in ("cs.CL", "diffusion (only these)", "survey", "Ada Lovelace", "09:45 Europe/Berlin",
                     "mon tue wed thu fri", "Cards per digest: 7", "Cross-lists: left out"):
        assert fragment in answer


async def test_settings_of_a_new_chat_show_the_defaults(app):
    answer = await ask(app, "/settings")
    assert "Categories: none" in answer and "08:00 UTC" in answer


# --- who may change a group's subscription ----------------------------------------------------


@pytest.mark.parametrize("line", ["/subscribe cs.CL", "/unsubscribe", "/keywords llm", "/time 09:00", "/max 3"])
async def test_a_group_member_who_is_not_an_admin_cannot_change_the_subscription(app, line):
    await ask(app, "/subscribe cs.AI", GROUP_ADMIN)
    answer = await ask(app, line, GROUP_MEMBER)
    assert "admins" in answer
    sub = app.subscriptions.get(GROUP_MEMBER.chat_id)
    assert (sub.categories, sub.keywords, sub.delivery_time, sub.max_papers) == ("cs.AI", (), "08:00", 5)


async def test_a_group_member_cannot_subscribe_with_a_button_either(app):
    reply = await app.handle_action(GROUP_MEMBER, "sub:cs.CL")
    assert reply.notice and "admins" in reply.notice
    assert app.subscriptions.get(GROUP_MEMBER.chat_id) is None


async def test_a_group_member_may_read_the_digest_and_papers(app, fake_arxiv):
    fake_arxiv.add_api_feed(atom_feed([atom_entry("2401.12345", "Group reading")]))
    await ask(app, "/subscribe cs.AI", GROUP_ADMIN)
    assert "admins" not in await ask(app, "/digest", GROUP_MEMBER)
    assert "Group reading" in await ask(app, "/paper 2401.12345", GROUP_MEMBER)


# --- papers and links -------------------------------------------------------------------------


def card_titles(messages: list[Message]) -> list[str]:
    return [span.text for m in messages for block in m.blocks[:1] for span in getattr(block, "spans", ())
            if isinstance(span, Link)]


@pytest.mark.parametrize("line", [
    "have a look at https://arxiv.org/abs/2401.12345v2 it's good",
    "https://arxiv.org/pdf/2401.12345",
    "arXiv:2401.12345",
])
async def test_pasted_arxiv_links_answer_with_the_paper_card(app, fake_arxiv, line):
    fake_arxiv.add_api_feed(atom_feed([atom_entry("2401.12345", "Attention Is Plenty", version=2)]))
    messages = await app.handle_text(PRIVATE, line)
    assert card_titles(messages) == ["Attention Is Plenty"]
    assert "save:2401.12345" in actions(messages) and "faq:2401.12345" in actions(messages)


async def test_old_style_ids_answer_too(app, fake_arxiv):
    fake_arxiv.add_api_feed(atom_feed([atom_entry("hep-th/9901001", "Strings", categories=("hep-th",))]))
    assert card_titles(await app.handle_text(PRIVATE, "/paper hep-th/9901001")) == ["Strings"]


async def test_several_links_in_one_message_answer_each_and_name_the_unknown(app, fake_arxiv):
    fake_arxiv.add_api_feed(atom_feed([atom_entry("2401.00001", "One"), atom_entry("2401.00002", "Two")]))
    messages = await app.handle_text(PRIVATE, "2401.00001 and 2401.00002 and 2401.99999")
    assert card_titles(messages) == ["One", "Two"]
    assert "2401.99999" in said(messages)


async def test_a_title_full_of_markup_characters_survives(app, fake_arxiv):
    title = "Bounds <for> A&B when x<y & z>0"
    fake_arxiv.add_api_feed(atom_feed([atom_entry("2401.12345", title, summary="a<b && c>d")]))
    messages = await app.handle_text(PRIVATE, "/paper 2401.12345")
    assert card_titles(messages) == [title]
    assert "a<b && c>d" in said(messages)


async def test_free_text_without_links_gets_a_hint_in_private_and_silence_in_groups(app):
    assert "arXiv link" in await ask(app, "hello there")
    assert await app.handle_text(GROUP_MEMBER, "hello everyone") == []


async def test_paper_without_an_id_says_how(app):
    assert "/paper" in await ask(app, "/paper")


async def test_unknown_command_points_to_help(app):
    answer = await ask(app, "/frobnicate now")
    assert "/frobnicate" in answer and "/help" in answer


# --- forged or stale buttons ------------------------------------------------------------------


async def test_a_page_button_of_another_chats_digest_shows_nothing_of_it(app, fake_arxiv):
    from tests.fakes.fake_arxiv import rss_feed, rss_item

    items = [rss_item(f"2606.{i:05d}", f"Secret {i}", categories=("cs.CL",)) for i in range(1, 16)]
    fake_arxiv.rss["cs.CL"] = rss_feed("cs.CL", items)
    await ask(app, "/subscribe cs.CL")
    await ask(app, "/max 2")
    messages = await app.handle_text(PRIVATE, "/digest")
    page_buttons = [a for a in actions(messages) if a.startswith("pg:")]
    assert page_buttons
    digest_id = page_buttons[0].split(":")[1]
    stranger = ChatContext(chat_id="console:mallory")
    reply = await app.handle_action(stranger, f"pg:{digest_id}:1")
    assert reply.edit is None and not reply.replies and reply.notice
    assert "Secret" not in (reply.notice or "")


@pytest.mark.parametrize("payload", ["pg:999:0", "pg:abc:def", "pg:", "garbage", "", "card:notanid", "save:",
                                     "sub:foo.bar", "nope:1:2:3", "card:" + "9" * 40])
async def test_forged_button_payloads_act_on_nothing_and_answer_politely(app, payload):
    reply = await app.handle_action(PRIVATE, payload)
    assert reply.edit is None
    assert reply.notice or reply.replies
    assert "Traceback" not in (reply.notice or "") + said(reply.replies)
    sub = app.subscriptions.get(PRIVATE.chat_id)
    assert sub is None or not sub.categories


@pytest.mark.parametrize("line", ["/", "/ ", "//", "/subscribe " + "x" * 5000, "/time 99:99 " + "Z" * 300,
                                  "/max 1e9", "/keywords \"unclosed", "/paper not-an-id", "\x00\x01"])
async def test_nothing_a_user_types_makes_the_bot_raise(app, line):
    messages = await app.handle_text(PRIVATE, line)
    assert isinstance(messages, list)


async def test_a_chat_reading_another_language_gets_a_translate_button_on_cards(app, fake_arxiv):
    from tests.fakes.fake_arxiv import atom_entry, atom_feed

    fake_arxiv.add_api_feed(atom_feed([atom_entry("2401.12345", "A paper")]))
    chat = ChatContext(chat_id="console:zh")
    [card] = await app.handle_text(chat, "https://arxiv.org/abs/2401.12345")
    assert "tr:2401.12345" not in [b.action for row in card.buttons for b in row]
    await app.handle_text(chat, "/language zh")
    [card] = await app.handle_text(chat, "2401.12345")
    assert "tr:2401.12345" in [b.action for row in card.buttons for b in row]
