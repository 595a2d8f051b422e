"""TelegramSender against the fake Bot API: limits, 429s, blocked chats, parse errors, parts, streams."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from adapters.telegram.limits import RateLimiter, RateLimits
from adapters.telegram.sender import TelegramSender, tg_chat_id
from bot.ports import ChatMoved, ChatUnreachable, SentRef, TransientSendError
from digest.message import Button, Heading, Link, Message, Paragraph, Quote, Text, text
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

FAST = RateLimits(overall_per_s=200, chat_per_s=50, group_per_min=600, group_edits_per_min=600)
CARD = Message(
    blocks=(Heading((Link("Attention <is> all & you need", "https://arxiv.org/abs/1706.03762"),)),
            Paragraph((Text("Vaswani et al."),)), Quote((Text("We propose the Transformer."),))),
    buttons=((Button("❓ FAQ", action="faq:1706.03762"), Button("📄 PDF", url="https://arxiv.org/pdf/1706.03762")),),
)


@pytest.fixture
def fake():
    with FakeTelegram(limits=FakeLimits(overall_per_s=200, chat_per_s=50, group_per_min=600, group_edits_per_min=600)) as server:
        yield server


@pytest.fixture
async def bot(fake):
    tg = Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest(connection_pool_size=16))
    async with tg:
        yield tg


@pytest.fixture
def sender(bot):
    return TelegramSender(bot, limiter=RateLimiter(FAST))


async def test_send_renders_html_and_returns_where_the_buttons_landed(fake, sender):
    ref = await sender.send("tg:42", CARD)
    [message] = fake.sent(42)
    assert ref == SentRef("tg:42", str(message["message_id"]))
    assert message["text"].startswith("Attention <is> all & you need")
    assert "&lt;is&gt;" in message["html"]
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "faq:1706.03762"


async def test_429_waits_exactly_retry_after_then_resends_once(fake, sender):
    fake.fail_next(42, "flood", retry_after=1)
    await sender.send("tg:42", CARD)
    first, second = fake.calls_to("sendMessage")
    assert first.status == 429 and second.status == 200
    assert 1.0 <= second.at - first.at < 1.5
    assert len(fake.sent(42)) == 1
    assert sender.floods == 1


async def test_persistent_429_becomes_transient_error_with_retry_after(fake, bot):
    sender = TelegramSender(bot, limiter=RateLimiter(FAST), max_attempts=2)
    fake.fail_next(42, "flood", retry_after=1)
    fake.fail_next(42, "flood", retry_after=2)
    with pytest.raises(TransientSendError) as err:
        await sender.send("tg:42", CARD)
    assert err.value.retry_after == 2
    assert fake.sent(42) == []


@pytest.mark.parametrize("chat_id", [42, -1001234])
async def test_blocked_or_kicked_chat_is_unreachable_and_not_retried(fake, sender, chat_id):
    fake.block(chat_id)
    with pytest.raises(ChatUnreachable):
        await sender.send(f"tg:{chat_id}", CARD)
    assert len(fake.calls_to("sendMessage")) == 1


async def test_migrated_group_raises_chat_moved_with_the_new_id(fake, sender):
    fake.migrate(-555, -100555)
    with pytest.raises(ChatMoved) as err:
        await sender.send("tg:-555", CARD)
    assert err.value.new_chat_id == "tg:-100555"


async def test_parse_error_resends_as_plain_text_with_the_link_spelled_out(fake, sender):
    fake.fail_next(42, "parse")
    await sender.send("tg:42", CARD)
    rejected, plain = fake.calls_to("sendMessage")
    assert rejected.status == 400 and rejected.params["parse_mode"] == "HTML"
    assert "parse_mode" not in plain.params
    [message] = fake.sent(42)
    assert "Attention <is> all & you need (https://arxiv.org/abs/1706.03762)" in message["text"]
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "faq:1706.03762"


async def test_edit_replaces_text_and_buttons_and_ignores_not_modified(fake, sender):
    ref = await sender.send("tg:42", CARD)
    saved = Message(CARD.blocks, buttons=((Button("✅ Saved", action="save:1706.03762"),),))
    await sender.edit(ref, saved)
    await sender.edit(ref, saved)  # Telegram answers "message is not modified": harmless
    [message] = fake.sent(42)
    assert message["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Saved"
    assert [c.status for c in fake.calls_to("editMessageText")] == [200, 400]


async def test_long_message_goes_in_parts_under_the_limit_with_buttons_on_the_last(fake, sender):
    lines = tuple(Paragraph((Text(f"{i}. " + "word " * 150),)) for i in range(20))
    message = Message(lines, buttons=((Button("Next", action="pg:1:2"),),))
    await sender.send("tg:42", message)
    parts = fake.sent(42)
    assert len(parts) >= 4
    assert all("reply_markup" not in p for p in parts[:-1]) and "reply_markup" in parts[-1]
    assert "".join(p["text"] for p in parts).count("word") == 20 * 150


async def test_retry_after_a_failure_half_way_sends_only_the_missing_parts(fake, bot):
    sender = TelegramSender(bot, limiter=RateLimiter(FAST), max_attempts=1)
    message = Message(tuple(Paragraph((Text(f"{i}. " + "word " * 300),)) for i in range(10)))
    fake.fail_next(42, "flood", after=1)
    with pytest.raises(TransientSendError):
        await sender.send("tg:42", message, idempotency_key="digest-42-2026-11-23")
    assert len(fake.sent(42)) == 1
    await sender.send("tg:42", message, idempotency_key="digest-42-2026-11-23")
    texts = [p["text"] for p in fake.sent(42)]
    assert len(texts) == len(set(texts)) >= 3


async def test_private_stream_shows_drafts_then_sends_the_answer(fake, bot):
    sender = TelegramSender(bot, limiter=RateLimiter(FAST), stream_interval_s=0.0)
    stream = await sender.open_stream("tg:42")
    for chunk in ("The paper", "The paper shows **that**", "The paper shows **that** attention works"):
        await stream.update(chunk)
    await stream.finish(text("The paper shows that attention works."))
    assert [d["text"] for d in fake.drafts][-1].startswith("The paper shows")
    assert [m["text"] for m in fake.sent(42)] == ["The paper shows that attention works."]


async def test_group_stream_edits_one_placeholder_into_the_answer(fake, bot):
    sender = TelegramSender(bot, limiter=RateLimiter(FAST), group_stream_interval_s=0.0)
    stream = await sender.open_stream("tg:-100777")
    await stream.update("Thinking about")
    await stream.update("Thinking about it")
    await stream.finish(text("Answer: yes."))
    assert [m["text"] for m in fake.sent(-100777)] == ["Answer: yes."]
    assert fake.drafts == []


async def test_sender_stays_under_the_fakes_limits_without_any_429():
    """A burst to one private chat, one group and many chats stays within every limit."""
    limits = FakeLimits(overall_per_s=60, chat_per_s=10, group_per_min=240)
    with FakeTelegram(limits=limits) as server:
        tg = Bot(server.token, base_url=server.base_url, request=HTTPXRequest(connection_pool_size=32))
        async with tg:
            sender = TelegramSender(tg, limiter=RateLimiter(RateLimits(60, 10, 240, 240)))
            async def burst(chat: int, n: int) -> None:
                for i in range(n):
                    await sender.send(f"tg:{chat}", text(f"message {i}"))

            await asyncio.gather(burst(42, 8), burst(-100900, 8), *(burst(1000 + i, 1) for i in range(40)))
        assert server.flood_count == 0
        assert len(server.sent(42)) == len(server.sent(-100900)) == 8
        gaps = [b.at - a.at for a, b in zip(server.calls_to("sendMessage"), server.calls_to("sendMessage")[1:])]
        assert sum(gaps) >= (56 - 1) / 60 * 0.9


def test_chat_ids_are_namespaced():
    assert tg_chat_id("tg:-100123") == -100123
    with pytest.raises(ValueError):
        tg_chat_id("dc:123")


async def test_group_stream_spends_its_edits_on_answer_text_before_status_lines(fake, bot):
    """Issue 14: "3rd in line" notices used up the group's edit budget, so the answer showed late."""
    limits = RateLimits(overall_per_s=200, chat_per_s=50, group_per_min=600, group_edits_per_min=2)
    sender = TelegramSender(bot, limiter=RateLimiter(limits), group_stream_interval_s=3.0)
    stream = await sender.open_stream("tg:-100778")
    for place in ("3rd", "2nd", "1st"):
        await stream.status(f"⏳ Waiting for the language model: {place} in line…")
    await stream.update("The first words")
    edits = [c.params["text"] for c in fake.calls_to("editMessageText")]
    assert [m["text"] for m in fake.sent(-100778)] == ["The first words …"]  # shown at once, no edit spent on places
    assert edits == ["The first words …"]
    await stream.status("⏳ Back in line?")  # a status never replaces answer text
    assert fake.sent(-100778)[0]["text"] == "The first words …"
    await stream.finish(text("The answer."))
    assert [m["text"] for m in fake.sent(-100778)] == ["The answer."]


async def test_a_skipped_group_edit_is_tried_again_with_the_next_text(fake, bot):
    """An edit the limiter skips does not hold the next text back a whole interval."""
    limiter = RateLimiter(RateLimits(overall_per_s=200, chat_per_s=50, group_per_min=600, group_edits_per_min=600))
    sender = TelegramSender(bot, limiter=limiter, group_stream_interval_s=30.0)
    stream = await sender.open_stream("tg:-100779")
    await stream.status("📄 Reading the paper…")
    lock = limiter._locks.setdefault(-100779, asyncio.Lock())
    async with lock:  # another request to this group holds its turn: the edit is skipped, not queued
        await stream.update("First")
    await stream.update("First words")
    assert fake.sent(-100779)[0]["text"] == "First words …"


async def test_an_answers_first_words_go_before_other_answers_edits_in_a_group(fake, bot):
    """Answers already showing text hold their edits while another answer in the group waits to show its first words."""
    limiter = RateLimiter(RateLimits(overall_per_s=200, chat_per_s=50, group_per_min=600, group_edits_per_min=60000))
    sender = TelegramSender(bot, limiter=limiter, group_stream_interval_s=0.0)
    first, second = await sender.open_stream("tg:-100780"), await sender.open_stream("tg:-100780")
    await first.status("✍️ Writing the answer…")
    await second.status("⏳ Waiting for the language model: 1st in line…")
    await first.update("A one")
    async with limiter._locks.setdefault(-100780, asyncio.Lock()):  # the group is busy: this edit is skipped
        await second.update("B one")
    await first.update("A one two")  # held back: the other answer's first words go first
    assert [m["text"] for m in fake.sent(-100780)] == ["A one …", "⏳ Waiting for the language model: 1st in line…"]
    await second.update("B one two")
    await first.update("A one two three")
    assert [m["text"] for m in fake.sent(-100780)] == ["A one two three …", "B one two …"]
    await first.finish(text("A."))
    await second.finish(text("B."))
    assert sender.group_streams == {}
