"""End to end: a real discord.py Client, the real paperboy core, a fake Discord and a fake arXiv.

The fake Discord (tests/fakes/fake_discord.py) speaks the gateway (HELLO, IDENTIFY -> READY,
heartbeats) and REST with Discord's limits; the fake arXiv serves the real cs.CL feed of
2026-06-16. Tests inject INTERACTION_CREATE events the way Discord does when someone runs a slash
command or presses a button, and check what lands in the fake's channels and paperboy's database.
"""

from __future__ import annotations

import datetime as dt
import logging

import discord
import pytest

from adapters.discord.app import DiscordBot, configure_endpoints
from adapters.discord.interactions import APOLOGY
from bot.command_specs import COMMANDS
from bot.config import DatabaseSettings, DiscordSettings, LLMSettings, Settings
from digest.message import text
from tests.fakes.fake_arxiv import FakeArxiv
from tests.fakes.fake_discord import EPHEMERAL_FLAG, PRIVILEGED_INTENTS, FakeDiscord
from tests.fakes.fake_openai import FakeOpenAI

NOW = dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.timezone.utc)  # Tuesday; the 06-16 mailing is out
CHANNEL = 4_000_001
USER = 4242


@pytest.fixture
def arxiv(shared_data):
    feed = shared_data / "rss" / "rendered" / "rss_cs.CL_2026-06-16.xml"
    with FakeArxiv() as fake:
        fake.rss["cs.CL"] = feed.read_bytes()
        yield fake


FAQ_ANSWER = "**What is new?** A regret bound of $O(\\sqrt{T})$ for phone agents."


@pytest.fixture
def llm():
    with FakeOpenAI(answer=lambda body: FAQ_ANSWER) as fake:
        yield fake


@pytest.fixture
async def discord_api():
    async with FakeDiscord() as fake:
        yield fake
    configure_endpoints(DiscordSettings())  # leave discord.py pointing at the real Discord


class Clock:
    """A clock tests can move."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def app_and_settings(tmp_path, arxiv, discord_api, llm, clock):
    from bot.cli import build_app

    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'paperboy.sqlite3'}"),
        arxiv=arxiv.settings(),
        discord=DiscordSettings(token="test-token", api_url=discord_api.api_url, gateway_url=discord_api.gateway_url),
        llm=LLMSettings(base_url=llm.base_url, api_key="test-key", retries=0),
    )
    app = build_app(settings, clock=clock)
    yield app, settings
    await app.aclose()


async def start_bot(app, settings, fake: FakeDiscord) -> DiscordBot:
    bot = DiscordBot(app, settings)
    before = len(fake.identifies)
    await bot.start()
    await fake.wait_for(lambda: len(fake.identifies) > before)
    return bot


async def answered(fake: FakeDiscord, interaction, *, followups: int = 0) -> None:
    """Wait until the interaction was acknowledged and `followups` follow-ups were posted."""
    def done() -> bool:
        posted = fake.requests_to("POST", rf"/webhooks/\d+/{interaction.token}")
        return bool(interaction.callbacks) and len(posted) >= followups
    await fake.wait_for(done)


def visible(fake: FakeDiscord, channel: int) -> list[dict]:
    return fake.channel_messages(channel, include_ephemeral=False)


def texts(messages: list[dict]) -> str:
    return "\n".join(m["content"] + "".join((e.get("title") or "") + (e.get("description") or "") for e in m["embeds"])
                     for m in messages)


def custom_ids(message: dict) -> list[str]:
    return [c.get("custom_id", "") for row in message["components"] for c in row["components"]]


async def run_digest(fake: FakeDiscord, channel: int) -> None:
    """/digest, waiting until its last message (the paged list of the remaining papers) arrived."""
    await fake.slash("digest", channel_id=channel, user_id=USER)
    await fake.wait_for(lambda: [m for m in fake.channel_messages(channel)
                                 if any(c.startswith("pb:pg:") for c in custom_ids(m))])


async def subscribe(fake: FakeDiscord, channel: int, *, guild: bool = True) -> None:
    """Follow cs.CL in the cards style (these tests read cards; the compact style has its own tests)."""
    interaction = await fake.slash("subscribe", {"categories": "cs.CL"}, channel_id=channel, user_id=USER, guild=guild)
    await answered(fake, interaction, followups=1)
    interaction = await fake.slash("style", {"style": "cards"}, channel_id=channel, user_id=USER, guild=guild)
    await answered(fake, interaction, followups=1)


async def test_login_syncs_commands_once_and_asks_for_no_privileged_intent(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        assert discord_api.command_syncs == 1
        assert sorted(c["name"] for c in discord_api.commands) == sorted(s.name for s in COMMANDS)
        assert discord_api.identifies[0]["intents"] & PRIVILEGED_INTENTS == 0
        zone = next(c for c in discord_api.commands if c["name"] == "time")["options"][1]
        assert zone["autocomplete"] is True
    finally:
        await bot.stop()
    again = await start_bot(app, settings, discord_api)  # a restart with the same commands
    await again.stop()
    assert discord_api.command_syncs == 1


async def test_subscribe_then_digest_in_a_channel(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        await subscribe(discord_api, CHANNEL)
        assert "cs.CL" in app.subscriptions.get(f"dc:{CHANNEL}").categories
        assert discord_api.interactions_for_type(2)[0].callbacks[0]["type"] == 5  # deferred within 3 s

        await run_digest(discord_api, CHANNEL)
        await app.wait_idle()
        cards = [m for m in visible(discord_api, CHANNEL) if any(c.startswith("pb:faq:") for c in custom_ids(m))]
        assert cards, texts(visible(discord_api, CHANNEL))
        first = cards[0]
        assert first["embeds"][0]["url"].endswith(custom_ids(first)[0].split(":", 2)[2])
        assert any(c["url"].startswith(app.settings.arxiv.pdf_url)
                   for row in first["components"] for c in row["components"] if c.get("url"))
    finally:
        await bot.stop()


async def test_only_members_who_manage_the_channel_can_subscribe_it(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        interaction = await discord_api.slash("subscribe", {"categories": "cs.CL"}, channel_id=CHANNEL,
                                              user_id=USER, manage=False)
        await answered(discord_api, interaction, followups=1)
        assert app.subscriptions.get(f"dc:{CHANNEL}") is None or not app.subscriptions.get(f"dc:{CHANNEL}").categories
        assert "admins" in texts(visible(discord_api, CHANNEL))
    finally:
        await bot.stop()


async def test_old_buttons_keep_working_after_a_restart(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    await subscribe(discord_api, CHANNEL)
    await run_digest(discord_api, CHANNEL)
    await bot.stop()

    restarted = await start_bot(app, settings, discord_api)  # a new process: no view state survives
    try:
        listing = next(m for m in visible(discord_api, CHANNEL) if any(c.startswith("pb:card:") for c in custom_ids(m)))
        button = next(c for c in custom_ids(listing) if c.startswith("pb:card:"))
        paper_id = button.split(":", 2)[2]
        press = await discord_api.press(int(listing["id"]), button, user_id=USER)
        await answered(discord_api, press, followups=1)
        assert press.callbacks[0]["type"] == 6  # acknowledged at once, answered by a follow-up
        [card] = [m for m in visible(discord_api, CHANNEL)
                  if m["embeds"] and (m["embeds"][0].get("url") or "").endswith(paper_id) and m["id"] != listing["id"]]
        assert f"pb:save:{paper_id}" in custom_ids(card)
    finally:
        await restarted.stop()


async def test_paging_edits_the_list_in_place(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        await subscribe(discord_api, CHANNEL)
        await run_digest(discord_api, CHANNEL)
        listing = next(m for m in visible(discord_api, CHANNEL) if any(c.startswith("pb:pg:") for c in custom_ids(m)))
        first_page = texts([listing])
        count = len(discord_api.messages)
        second_page = next(c for c in custom_ids(listing) if c.startswith("pb:pg:") and c.split(":")[3] == "1")
        press = await discord_api.press(int(listing["id"]), second_page)
        await discord_api.wait_for(
            lambda: discord_api.requests_to("PATCH", rf"/webhooks/\d+/{press.token}/messages/@original"))
        assert texts([discord_api.messages[int(listing["id"])]]) != first_page
        assert len(discord_api.messages) == count  # turned in place, nothing new posted
    finally:
        await bot.stop()


async def test_faq_is_streamed_into_the_channel(app_and_settings, discord_api, llm):
    from bot import registry

    app, settings = app_and_settings
    if "faq" not in registry.ACTION_HANDLERS:
        pytest.skip("the core has no faq action yet")
    bot = await start_bot(app, settings, discord_api)
    try:
        await subscribe(discord_api, CHANNEL)
        await run_digest(discord_api, CHANNEL)
        card = next(m for m in visible(discord_api, CHANNEL) if any(c.startswith("pb:faq:") for c in custom_ids(m)))
        faq_id = next(c for c in custom_ids(card) if c.startswith("pb:faq:"))
        press = await discord_api.press(int(card["id"]), faq_id, user_id=USER)
        await answered(discord_api, press)
        assert press.callbacks[0]["type"] == 6
        await app.wait_idle()
        streamed = await discord_api.wait_for(lambda: [m for m in visible(discord_api, CHANNEL) if "regret bound" in texts([m])])
        assert "O(√(T))" in texts(streamed)  # the LLM's LaTeX arrives as Unicode
        assert llm.calls >= 1
    finally:
        await bot.stop()


async def test_save_button_edits_the_card(app_and_settings, discord_api):
    app, settings = app_and_settings
    from bot import registry

    if "save" not in registry.ACTION_HANDLERS:
        pytest.skip("the core has no save action yet")
    bot = await start_bot(app, settings, discord_api)
    try:
        await subscribe(discord_api, CHANNEL)
        await run_digest(discord_api, CHANNEL)
        card = next(m for m in visible(discord_api, CHANNEL) if any(c.startswith("pb:save:") for c in custom_ids(m)))
        save_id = next(c for c in custom_ids(card) if c.startswith("pb:save:"))
        press = await discord_api.press(int(card["id"]), save_id, user_id=USER)
        await answered(discord_api, press)
        await discord_api.wait_for(lambda: discord_api.requests_to("PATCH", rf"/webhooks/\d+/{press.token}/messages/@original")
                                   or discord_api.requests_to("POST", rf"/webhooks/\d+/{press.token}"))
        labels = [c.get("label") for row in discord_api.messages[int(card["id"])]["components"] for c in row["components"]]
        assert any("Saved" in (label or "") for label in labels), labels
    finally:
        await bot.stop()


async def test_ask_opens_a_modal_and_runs_the_question(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        await subscribe(discord_api, CHANNEL)
        await run_digest(discord_api, CHANNEL)
        card = next(m for m in visible(discord_api, CHANNEL) if any(c.startswith("pb:ask:") for c in custom_ids(m)))
        ask_id = next(c for c in custom_ids(card) if c.startswith("pb:ask:"))
        press = await discord_api.press(int(card["id"]), ask_id, user_id=USER)
        await answered(discord_api, press)
        assert press.callbacks[0]["type"] == 9  # a modal
        submitted = await discord_api.submit_modal(press, {press.modal["components"][0]["components"][0]["custom_id"]:
                                                           "What dataset do they use?"}, user_id=USER)
        await answered(discord_api, submitted)
        assert "What dataset do they use?" in submitted.callbacks[0]["data"]["content"]
        assert ask_id.split(":", 2)[2] in submitted.callbacks[0]["data"]["content"]
    finally:
        await bot.stop()


async def test_category_autocomplete_suggests_while_typing(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        interaction = await discord_api.autocomplete("subscribe", "categories", "cs.AI+comput", channel_id=CHANNEL)
        await answered(discord_api, interaction)
        choices = interaction.callbacks[0]["data"]["choices"]
        assert interaction.callbacks[0]["type"] == 8
        assert any(c["value"] == "cs.AI+cs.CL" for c in choices), choices
        zone = await discord_api.autocomplete("time", "zone", "berl", channel_id=CHANNEL)
        await answered(discord_api, zone)
        assert zone.callbacks[0]["data"]["choices"][0]["value"] == "Europe/Berlin"
    finally:
        await bot.stop()


async def test_closed_dms_pause_the_subscription(app_and_settings, discord_api, clock):
    from bot.delivery import deliver_due, ingest

    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        dm = discord_api.dm_channel_for(USER)
        await subscribe(discord_api, dm, guild=False)
        assert app.subscriptions.get(f"dc:{dm}").categories
        await ingest(app, NOW.date())
        discord_api.fail_channel(dm, 403, 50007, "Cannot send messages to this user")
        # Subscriptions record their creation on the wall clock; a digest is due at the first
        # delivery time after it, so move the bot's clock past that.
        clock.now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=8)
        await deliver_due(app)
        sub = app.subscriptions.get(f"dc:{dm}")
        assert sub.paused
        assert discord_api.requests_to("POST", rf"/channels/{dm}/messages")
    finally:
        await bot.stop()


async def test_a_wrong_token_fails_at_start_with_a_clear_log(caplog):
    from adapters.discord import start_discord

    async with FakeDiscord(token="the-right-token") as fake:
        settings = Settings(discord=DiscordSettings(token="a-wrong-token", api_url=fake.api_url,
                                                    gateway_url=fake.gateway_url))
        with caplog.at_level(logging.ERROR, logger="adapters.discord"), pytest.raises(discord.LoginFailure):
            await start_discord(FailingCore(), settings)
        assert not fake.identifies
    configure_endpoints(DiscordSettings())
    assert any("discord.token" in r.getMessage() for r in caplog.records)


async def test_start_discord_returns_its_stopper(discord_api):
    from adapters.discord import start_discord

    settings = Settings(discord=DiscordSettings(token="t", api_url=discord_api.api_url, gateway_url=discord_api.gateway_url))
    stop = await start_discord(FailingCore(), settings)
    await discord_api.wait_for(lambda: discord_api.connected)
    await stop()
    await discord_api.wait_for(lambda: not discord_api.connected)


class FailingCore:
    """A core whose every call fails, to exercise the adapter's error sink."""

    def __init__(self) -> None:
        self.senders: dict = {}
        self.sessions = None

    def attach_sender(self, platform, sender) -> None:
        self.senders[platform] = sender

    async def handle_text(self, ctx, text_in, *, reply=None):
        raise RuntimeError("boom")

    async def handle_action(self, ctx, action, *, message_id=None):
        raise RuntimeError("boom")


async def test_a_failing_command_is_logged_and_apologised_for(discord_api, caplog):
    settings = Settings(discord=DiscordSettings(token="t", api_url=discord_api.api_url, gateway_url=discord_api.gateway_url))
    bot = await start_bot(FailingCore(), settings, discord_api)
    try:
        with caplog.at_level(logging.ERROR, logger="adapters.discord"):
            interaction = await discord_api.slash("help", channel_id=CHANNEL)
            await discord_api.wait_for(
                lambda: discord_api.requests_to("PATCH", rf"/webhooks/\d+/{interaction.token}/messages/@original"))
        # the apology takes the place of the "thinking…" placeholder
        assert [m["content"] for m in discord_api.channel_messages(CHANNEL)] == [APOLOGY]
        assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    finally:
        await bot.stop()


async def test_a_failing_button_is_apologised_for(discord_api):
    settings = Settings(discord=DiscordSettings(token="t", api_url=discord_api.api_url, gateway_url=discord_api.gateway_url))
    core = FailingCore()
    bot = await start_bot(core, settings, discord_api)
    try:
        ref = await core.senders["dc"].send(f"dc:{CHANNEL}", _card_like())
        press = await discord_api.press(int(ref.message_id), "pb:save:2606.00001", user_id=USER)
        await answered(discord_api, press, followups=1)
        apology = [m for m in discord_api.channel_messages(CHANNEL) if m["content"] == APOLOGY]
        assert apology and apology[0]["flags"] & EPHEMERAL_FLAG
    finally:
        await bot.stop()


def _card_like():
    from digest.message import Button, Message

    return Message(blocks=text("A paper").blocks, buttons=((Button("☆ Save", action="save:2606.00001"),),))


@pytest.fixture(autouse=True)
def _quiet_discord_logs():
    logging.getLogger("discord").setLevel(logging.WARNING)
    yield



async def test_a_long_day_comes_compact_and_a_number_opens_the_card(app_and_settings, discord_api):
    app, settings = app_and_settings
    bot = await start_bot(app, settings, discord_api)
    try:
        interaction = await discord_api.slash("subscribe", {"categories": "cs.CL"}, channel_id=CHANNEL, user_id=USER)
        await answered(discord_api, interaction, followups=1)
        await run_digest(discord_api, CHANNEL)
        shown = visible(discord_api, CHANNEL)
        assert not any(c.startswith("pb:save:") for m in shown for c in custom_ids(m))  # no wall of cards
        listing = next(m for m in shown if any(c.startswith("pb:pg:") for c in custom_ids(m)))
        assert "Papers 1–10 of 160 · page 1/16" in texts([listing])
        pages = {c.split(":")[3] for c in custom_ids(listing) if c.startswith("pb:pg:")}
        assert pages == {"0", "1", "15"}  # first, next, last
        number = next(c for c in custom_ids(listing) if c.startswith("pb:card:"))
        before = len(visible(discord_api, CHANNEL))
        press = await discord_api.press(int(listing["id"]), number, user_id=USER)
        await answered(discord_api, press)
        await discord_api.wait_for(lambda: len(visible(discord_api, CHANNEL)) > before)
        card = visible(discord_api, CHANNEL)[-1]
        assert texts([card]).startswith("1. ") and any(c.startswith("pb:faq:") for c in custom_ids(card))
    finally:
        await bot.stop()
