"""DiscordSender against the fake Discord REST API: idempotent sends, edits, streams, error mapping."""

from __future__ import annotations

import asyncio

import discord
import pytest

from adapters.discord.app import configure_endpoints
from adapters.discord.sender import DiscordSender, nonce_for
from bot.config import DiscordSettings
from bot.ports import ChatUnreachable, SendError, SentRef, TransientSendError
from digest.message import Markdown, Message, text
from tests.fakes.fake_discord import FakeDiscord

CHANNEL = 555


@pytest.fixture
async def fake():
    async with FakeDiscord() as server:
        configure_endpoints(DiscordSettings(api_url=server.api_url, gateway_url=server.gateway_url))
        yield server
    configure_endpoints(DiscordSettings())


@pytest.fixture
async def client(fake):
    bot = discord.Client(intents=discord.Intents(guilds=True))
    await bot.login("test-token")
    yield bot
    await bot.close()


@pytest.fixture
def sender(client):
    return DiscordSender(client, stream_interval=0.2)


def test_nonce_is_short_and_stable():
    key = "digest:dc:555:2026-06-16:part-3" * 5
    assert len(nonce_for(key)) <= 25
    assert nonce_for(key) == nonce_for(key)
    assert nonce_for(key, 1) != nonce_for(key, 0)


async def test_resend_with_the_same_key_does_not_duplicate(fake, sender):
    first = await sender.send(f"dc:{CHANNEL}", text("Good morning"), idempotency_key="outbox-17")
    again = await sender.send(f"dc:{CHANNEL}", text("Good morning"), idempotency_key="outbox-17")
    assert first == again
    assert len(fake.channel_messages(CHANNEL)) == 1
    body = fake.requests_to("POST", rf"/channels/{CHANNEL}/messages")[0].body
    assert body["enforce_nonce"] is True and len(body["nonce"]) <= 25


async def test_long_message_is_sent_in_parts_and_edit_trims_them(fake, sender):
    long = Message(blocks=tuple(Markdown("word " * 900) for _ in range(4)))
    ref = await sender.send(f"dc:{CHANNEL}", long, idempotency_key="long")
    assert len(ref.message_id.split(",")) > 1
    assert len(fake.channel_messages(CHANNEL)) == len(ref.message_id.split(","))
    await sender.edit(ref, text("short now"))
    [left] = fake.channel_messages(CHANNEL)
    assert left["content"] == "short now" and left["embeds"] == []


async def test_closed_dms_are_unreachable(fake, sender):
    fake.fail_channel(CHANNEL, 403, 50007, "Cannot send messages to this user")
    with pytest.raises(ChatUnreachable):
        await sender.send(f"dc:{CHANNEL}", text("hi"))


async def test_missing_permissions_are_unreachable(fake, sender):
    fake.fail_channel(CHANNEL, 403, 50013, "Missing Permissions")
    with pytest.raises(ChatUnreachable):
        await sender.send(f"dc:{CHANNEL}", text("hi"))


async def test_a_rate_limit_is_waited_out(fake, sender):
    fake.rate_limit("POST", rf"/channels/{CHANNEL}/messages", retry_after=0.05)
    await sender.send(f"dc:{CHANNEL}", text("after the wait"))
    assert len(fake.requests_to("POST", rf"/channels/{CHANNEL}/messages")) == 2
    assert [m["content"] for m in fake.channel_messages(CHANNEL)] == ["after the wait"]


async def test_server_errors_are_transient(fake, sender):
    fake.fail_channel(CHANNEL, 503, 0, "upstream unavailable")
    with pytest.raises(TransientSendError):
        await sender.send(f"dc:{CHANNEL}", text("hi"))


async def test_refused_payloads_are_permanent_errors(fake, sender):
    fake.fail_channel(CHANNEL, 400, 50035, "Invalid Form Body")
    with pytest.raises(SendError) as info:
        await sender.send(f"dc:{CHANNEL}", text("hi"))
    assert not isinstance(info.value, (TransientSendError, ChatUnreachable))


async def test_non_discord_chat_ids_are_refused(sender):
    with pytest.raises(SendError):
        await sender.send("tg:1", text("hi"))


async def test_stream_edits_are_throttled_and_end_with_the_final_message(fake, sender):
    stream = await sender.open_stream(f"dc:{CHANNEL}", reply_to="123")
    placeholder = fake.channel_messages(CHANNEL)[0]
    assert str(placeholder["message_reference"]["message_id"]) == "123"
    answer = ""
    for word in range(40):
        answer += f"word{word} "
        await stream.update(answer)
        await asyncio.sleep(0.01)
    ref = await stream.finish(Message(blocks=(Markdown("**Final** answer"),)))
    edits = fake.requests_to("PATCH", rf"/channels/{CHANNEL}/messages/\d+")
    assert 1 <= len(edits) <= 5  # 40 updates over ~0.4 s at one edit per 0.2 s
    assert ref == SentRef(f"dc:{CHANNEL}", placeholder["id"])
    assert fake.messages[int(placeholder["id"])]["content"] == "**Final** answer"


async def test_a_status_line_never_replaces_answer_text(fake, sender):
    stream = await sender.open_stream(f"dc:{CHANNEL}")
    placeholder = fake.channel_messages(CHANNEL)[0]
    await stream.status("⏳ Waiting for the language model: 2nd in line…")
    await asyncio.sleep(0.3)
    await stream.update("The first words")
    await asyncio.sleep(0.3)
    await stream.status("⏳ Waiting for the language model: 1st in line…")
    await asyncio.sleep(0.3)
    assert "The first words" in fake.messages[int(placeholder["id"])]["content"]
    await stream.finish(Message(blocks=(Markdown("Done."),)))
