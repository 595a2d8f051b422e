"""End to end: the real PTB Application, polling the fake Bot API, driving the real paperboy core.

A user starts the bot, subscribes with a button, asks for the digest of a real arXiv day (from
../shared/data, served by the fake arXiv), presses Save and Related; a group admin and a non-admin
try to change the group's subscription; a blocked user; a 429; a group migration; forged buttons.
Everything is read back from what the fake Telegram recorded, as a user would see it.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.telegram import RateLimits, start_telegram
from bot import registry
from bot.command_specs import COMMANDS
from tests.fakes.fake_telegram import BOT_ID, FakeLimits, FakeTelegram

DAY_FILE = "rss/rendered/rss_cs.CL_2026-06-16.xml"  # the app fixture's clock is Tue 2026-06-16 08:00 UTC
USER, GROUP, ADMIN, MEMBER = 4242, -100777, 7, 8


@pytest.fixture
def telegram():
    limits = FakeLimits(overall_per_s=100, chat_per_s=20, group_per_min=600, group_edits_per_min=600)
    with FakeTelegram(limits=limits) as fake:
        yield fake


@pytest.fixture
async def bot(app, settings, telegram):
    """paperboy's Telegram adapter running against the fake (polling, like production)."""
    tg = settings.replace("telegram", token=telegram.token, base_url=telegram.base_url)
    stop = await start_telegram(app, tg, limits=RateLimits(overall_per_s=100, chat_per_s=20, group_per_min=600,
                                                           group_edits_per_min=600))
    yield app
    await app.wait_idle()
    await stop()


@pytest.fixture
def real_day(shared_data, fake_arxiv):
    fake_arxiv.rss["cs.CL"] = (shared_data / DAY_FILE).read_bytes()


def texts(telegram: FakeTelegram, chat: int) -> list[str]:
    return [m["text"] for m in telegram.sent(chat)]


def actions(message: dict) -> list[str]:
    return [b.get("callback_data") or b.get("url") for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row]


async def reply_to(telegram: FakeTelegram, chat: int, send, *, count: int = 1, timeout: float = 20.0) -> list[dict]:
    """Do something, then wait until `count` new bot messages arrived in the chat; returns them."""
    before = len(telegram.sent(chat))
    send()
    await telegram.wait_for(lambda: len(telegram.sent(chat)) >= before + count, timeout=timeout)
    await asyncio.sleep(0.2)  # let any further parts land
    return telegram.sent(chat)[before:]


async def test_commands_are_registered_at_startup(bot, telegram):
    assert [c["command"] for c in telegram.commands] == [c.name for c in COMMANDS]
    [poll, *_] = await telegram.wait_for(lambda: telegram.calls_to("getUpdates"))
    assert "chat_member" in poll.params["allowed_updates"]  # Telegram sends those only when asked


async def test_new_user_from_start_to_reading_a_digest(bot, telegram, real_day):
    # /start: a greeting that explains itself and offers categories as buttons.
    [welcome] = await reply_to(telegram, USER, lambda: telegram.text(USER, "/start"))
    assert "paperboy" in welcome["text"] and "/subscribe" in welcome["text"]
    assert "sub:cs.CL" in actions(welcome)

    # One tap subscribes; the button press is answered with a short notice.
    [following] = await reply_to(telegram, USER, lambda: telegram.press(USER, welcome["message_id"], "sub:cs.CL"))
    assert "Following" in following["text"] and "cs.CL" in following["text"]
    [answer] = telegram.calls_to("answerCallbackQuery")
    assert "cs.CL" in answer.params.get("text", "")

    # /digest on a long day: a header naming the day, then the compact list (a line a paper, page numbers).
    digest = await reply_to(telegram, USER, lambda: telegram.text(USER, "/digest"), count=2, timeout=40)
    header, listing = digest[0], digest[-1]
    assert "16" in header["text"] and "Jun" in header["text"]
    assert "Papers 1–10 of" in listing["text"] and '<a href="' in listing["html"]
    assert not any(a and a.startswith("save:") for a in actions(listing))
    first = next(a for a in actions(listing) if a.startswith("card:"))

    # A number opens the full card, with the buttons people expect.
    [card] = await reply_to(telegram, USER, lambda: telegram.press(USER, listing["message_id"], first))
    labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    for word in ("FAQ", "Ask", "Save", "Related", "PDF"):
        assert any(word in label for label in labels), labels
    assert '<a href="' in card["html"] and "<blockquote expandable>" in card["html"]
    paper_id = next(a for a in actions(card) if a.startswith("save:")).split(":", 1)[1]

    # Save toggles and shows its state on the card itself.
    if "save" not in registry.ACTION_HANDLERS:
        pytest.skip("the Save button's handler (bot.find_commands) is not in this build yet")
    query = telegram.press(USER, card["message_id"], f"save:{paper_id}")
    await telegram.wait_for(lambda: query in telegram.callback_answers)
    await telegram.wait_for(lambda: telegram.chat(USER).messages[card["message_id"]].get("edited"))
    saved_labels = [b["text"] for row in telegram.chat(USER).messages[card["message_id"]]["reply_markup"]["inline_keyboard"]
                    for b in row]
    assert saved_labels != labels

    # Related answers with other papers.
    related = await reply_to(telegram, USER, lambda: telegram.press(USER, card["message_id"], f"rel:{paper_id}"))
    assert related and paper_id not in related[0]["text"][:20]


async def test_button_presses_are_answered_promptly(bot, telegram):
    [welcome] = await reply_to(telegram, USER, lambda: telegram.text(USER, "/start"))
    pressed = telegram.press(USER, welcome["message_id"], "sub:cs.AI")
    await telegram.wait_for(lambda: pressed in telegram.callback_answers)
    push = telegram.calls_to("getUpdates")[-1].at
    assert telegram.callback_answers[pressed]["at"] - push < 2.0


async def test_group_admin_may_subscribe_and_a_member_is_politely_refused(bot, telegram):
    telegram.chat(GROUP, "supergroup", title="NLP lab", admins=(ADMIN,))
    [refusal] = await reply_to(telegram, GROUP, lambda: telegram.text(GROUP, "/subscribe cs.CL", user_id=MEMBER))
    assert "admins" in refusal["text"]
    assert bot.subscriptions.get(f"tg:{GROUP}") is None or not bot.subscriptions.get(f"tg:{GROUP}").categories

    [done] = await reply_to(telegram, GROUP, lambda: telegram.text(GROUP, f"/subscribe@{telegram.username} cs.CL", user_id=ADMIN))
    assert "Following" in done["text"]
    assert "cs.CL" in bot.subscriptions.get(f"tg:{GROUP}").categories

    # The subscribe buttons of /start obey the same rule.
    [welcome] = await reply_to(telegram, GROUP, lambda: telegram.text(GROUP, "/start", user_id=MEMBER))
    query = telegram.press(GROUP, welcome["message_id"], "sub:cs.AI", user_id=MEMBER)
    await telegram.wait_for(lambda: query in telegram.callback_answers)
    assert "admins" in telegram.callback_answers[query].get("text", "")
    assert "cs.AI" not in bot.subscriptions.get(f"tg:{GROUP}").categories


async def test_commands_for_another_bot_and_chatter_in_groups_are_ignored(bot, telegram):
    telegram.chat(GROUP, "supergroup", admins=(ADMIN,))
    telegram.text(GROUP, "/help@some_other_bot", user_id=MEMBER)
    telegram.text(GROUP, "good morning everyone, see 2401.12345 later", user_id=MEMBER)
    [help_message] = await reply_to(telegram, GROUP, lambda: telegram.text(GROUP, "/help", user_id=MEMBER))
    assert "/subscribe" in help_message["text"]
    assert len(telegram.sent(GROUP)) == 1


async def test_channel_posts_by_admins_manage_the_channel(bot, telegram):
    channel = -1009999
    telegram.chat(channel, "channel", title="Daily NLP papers")
    [done] = await reply_to(telegram, channel, lambda: telegram.text(channel, "/subscribe cs.CL"))
    assert "Following" in done["text"]


async def test_blocked_user_pauses_the_subscription(bot, telegram):
    await reply_to(telegram, USER, lambda: telegram.text(USER, "/subscribe cs.CL"))
    telegram.block(USER)
    telegram.member_update(USER, "kicked", by_user=USER, old_status="member")
    await telegram.wait_for(lambda: bot.subscriptions.get(f"tg:{USER}").paused)


async def test_a_send_to_a_blocked_chat_pauses_it_and_is_not_retried(bot, telegram):
    other = 5151
    await reply_to(telegram, other, lambda: telegram.text(other, "/subscribe cs.CL"))
    telegram.block(other)
    telegram.text(other, "/settings")
    await telegram.wait_for(lambda: bot.subscriptions.get(f"tg:{other}").paused)
    assert [c.status for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == str(other)][-1] == 403


async def test_429_is_waited_out_and_the_reply_arrives_once(bot, telegram):
    telegram.fail_next(USER, "flood", retry_after=1)
    [reply] = await reply_to(telegram, USER, lambda: telegram.text(USER, "/help"))
    attempts = [c for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == str(USER)]
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0
    assert texts(telegram, USER) == [reply["text"]]


async def test_group_migration_moves_the_subscription(bot, telegram):
    old, new = -3030, -1003030
    telegram.chat(old, "group", admins=(ADMIN,))
    await reply_to(telegram, old, lambda: telegram.text(old, "/subscribe cs.CV", user_id=ADMIN))
    telegram.migration(old, new)
    await telegram.wait_for(lambda: bot.subscriptions.get(f"tg:{new}") is not None)
    assert "cs.CV" in bot.subscriptions.get(f"tg:{new}").categories


async def test_bot_added_to_a_group_says_hello(bot, telegram):
    telegram.chat(GROUP, "supergroup", admins=(ADMIN,))
    [hello] = await reply_to(telegram, GROUP, lambda: telegram.member_update(GROUP, "member", by_user=ADMIN))
    assert "paperboy" in hello["text"]


async def test_forged_or_foreign_buttons_act_on_nothing(bot, telegram):
    [welcome] = await reply_to(telegram, USER, lambda: telegram.text(USER, "/start"))
    for data in ("pg:999999:2", "nonsense", "sub:" + "x" * 60):
        query = telegram.press(USER, welcome["message_id"], data)
        await telegram.wait_for(lambda: query in telegram.callback_answers)
    assert telegram.sent(USER)[0]["text"] == welcome["text"]
    assert bot.subscriptions.get(f"tg:{USER}") is None or not bot.subscriptions.get(f"tg:{USER}").categories


async def test_pasted_link_in_private_chat_gets_a_card(bot, telegram, real_day):
    from bot.delivery import ingest

    await ingest(bot, None, "cs.CL")
    paper, _kind = bot.store.announced_on(bot.store.latest_announced_day())[0]
    paper_id = paper.id
    [card] = await reply_to(telegram, USER, lambda: telegram.text(USER, f"look: https://arxiv.org/abs/{paper_id}v2"))
    assert f"save:{paper_id}" in actions(card)
    # the same link alone in a group is answered too (it is clearly meant for the bot)
    telegram.chat(GROUP, "supergroup")
    [group_card] = await reply_to(telegram, GROUP, lambda: telegram.text(GROUP, f"arXiv:{paper_id}", user_id=MEMBER))
    assert f"save:{paper_id}" in actions(group_card)


def test_fake_bot_id_is_the_bots():
    assert BOT_ID > 0


async def test_webhook_mode_accepts_only_requests_with_the_secret(app, settings, telegram):
    import json
    import socket

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram/hook"
    tg = settings.replace("telegram", token=telegram.token, base_url=telegram.base_url, webhook_url=url,
                          webhook_secret="s3cret-token", webhook_listen="127.0.0.1", webhook_port=port)
    stop = await start_telegram(app, tg)
    try:
        assert telegram.webhook["url"] == url and telegram.webhook["secret_token"] == "s3cret-token"
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
                                              "from": telegram.user(USER), "text": "/help",
                                              "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, content=json.dumps(update), headers={"Content-Type": "application/json"})
            assert forged.status_code == 403
            for _ in range(2):  # Telegram redelivers when unsure: the bot answers once
                ok = await client.post(url, content=json.dumps(update), headers={
                    "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
                assert ok.status_code == 200
        await telegram.wait_for(lambda: telegram.sent(USER))
        await asyncio.sleep(0.3)
        assert len(telegram.sent(USER)) == 1
    finally:
        await stop()


async def test_an_update_redelivered_to_another_webhook_process_is_answered_once(app, settings, telegram):
    import json
    import socket

    import httpx

    from bot.cli import build_app

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    other = build_app(settings)  # a second bot process on the same database
    stops = []
    try:
        for paperboy, port in ((app, ports[0]), (other, ports[1])):
            tg = settings.replace("telegram", token=telegram.token, base_url=telegram.base_url,
                                  webhook_url="https://bots.example.org/telegram/hook", webhook_secret="s3cret",
                                  webhook_listen="127.0.0.1", webhook_port=port)
            stops.append(await start_telegram(paperboy, tg))
        update = {"update_id": 77, "message": {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"},
                                               "from": telegram.user(USER), "text": "/help",
                                               "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        async with httpx.AsyncClient() as client:
            for port in ports:  # the load balancer sends Telegram's retry to the other process
                ok = await client.post(f"http://127.0.0.1:{port}/telegram/hook", content=json.dumps(update), headers={
                    "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret"})
                assert ok.status_code == 200
        await telegram.wait_for(lambda: telegram.sent(USER))
        await asyncio.sleep(0.5)
        assert len(telegram.sent(USER)) == 1
    finally:
        for stop in stops:
            await stop()
        await other.aclose()


async def test_when_a_reply_cannot_be_sent_the_error_is_logged_and_the_user_gets_an_apology(bot, telegram, caplog):
    telegram.fail_next(USER, "down")
    [apology] = await reply_to(telegram, USER, lambda: telegram.text(USER, "/help"))
    assert apology["text"].startswith("Sorry")
    assert any(r.exc_info for r in caplog.records if "Telegram update" in r.getMessage())


async def test_scheduled_messages_leave_through_the_outbox(bot, telegram):
    import datetime as dt

    from bot.outbox import Outgoing, enqueue
    from digest.message import text

    await reply_to(telegram, 6161, lambda: telegram.text(6161, "/subscribe cs.CL"))
    telegram.block(6262)
    now = dt.datetime(2026, 6, 16, 8, 0)
    with bot.sessions.begin() as session:
        enqueue(session, [Outgoing("test:6161:0", "tg:6161", text("Good morning, here are your papers.")),
                          Outgoing("test:6262:0", "tg:6262", text("Good morning."))], now)
    assert await bot.deliver_pending() == 1
    assert texts(telegram, 6161)[-1] == "Good morning, here are your papers."
    assert await bot.deliver_pending() == 0  # nothing is sent twice
    assert len(telegram.sent(6161)) == 2


async def test_deep_link_subscribes_in_one_tap(bot, telegram):
    """t.me/<bot>?start=cs_AI-cs_LG opens the chat with "/start cs_AI-cs_LG"."""
    [done] = await reply_to(telegram, 7373, lambda: telegram.text(7373, "/start cs_AI-cs_LG"))
    assert "Following" in done["text"]
    categories = bot.subscriptions.get("tg:7373").categories
    assert "cs.AI" in categories and "cs.LG" in categories
