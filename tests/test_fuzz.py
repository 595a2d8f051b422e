"""A seeded fuzz of chat input and button payloads through two real adapters (issue 10).

2,200 inputs in all: 1,600 lines typed into the console adapter (`paperboy chat`'s own line
handler) and 600 updates sent to the Telegram adapter through the fake Bot API (python-telegram-bot
polling it, as in production), in a private chat and a group with an admin and a member. The inputs
are commands with hostile arguments (NUL bytes, lone surrogates, control and bidi characters,
numbers past 2**63, FTS5 syntax, 20,000-character words), free text, and button payloads, forged
or mutated from real buttons the bot sent.

It asserts no internal error (no apology, no ERROR log record, no exception out of a handler) and
every reply within the platform's limits: the fake Bot API refuses (400) any message Telegram would
refuse (text over 4,096 UTF-16 units, bad HTML, callback data over 64 bytes, a callback answer over
200 characters, too many buttons); console messages stay under `CONSOLE_MAX_CHARS`; and no input
produces more than `MAX_MESSAGES_PER_INPUT` messages. The seed is fixed, so a failure replays.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time

import pytest

from adapters.console import ConsoleSender, handle_line, render
from adapters.telegram import RateLimits, start_telegram
from bot import registry
from bot.app import APOLOGY
from bot.command_specs import COMMANDS
from digest.rss import parse_feed
from tests.fakes.fake_arxiv import rss_feed, rss_item
from tests.fakes.fake_telegram import FakeLimits, FakeTelegram

SEED = 20260616
CONSOLE_INPUTS = 1_600
TELEGRAM_INPUTS = 600
BATCH = 60
CONSOLE_MAX_CHARS = 30_000
MAX_MESSAGES_PER_INPUT = 12
PUB = "Tue, 16 Jun 2026 00:00:00 -0400"
USER, GROUP, ADMIN, MEMBER = 4242, -100777, 7, 8

PIECES = [
    "cs.CL", "cs", "cs.AI+cs.LG-cs.CY", "q-bio.NC", "zz.ZZ", "<script>zz.ZZ'; DROP TABLE papers;--",
    "2606.00001", "2606.00002v3", "https://arxiv.org/abs/2606.00003v2", "arXiv:2606.00004", "hep-th/9901001",
    "2401.99999", "9999.99999", "1234.5678v0",
    "0", "1", "-1", "50", "51", "9223372036854775807", "9223372036854775808", "1" * 40, "١٢٣",
    "\x00", "\ud800", "\udfff", "\x1b[31m", "\u202e", "\u200b", "\ufeff", "\x7f", "\x85", "\r\n", "\t",
    "'", '"', '"unterminated', "*", "NEAR(", "^", "OR", "AND", "NOT", "-", ":", "::", "au:", "cat:", "date:",
    "date:2025-01..2025-03", "after:99999-99", "before:2025-13-40", "au:\"yann lecun\"", "cat:cs.",
    "<b>", "</paper>", "&amp;", "&lt;", "%s", "{0}", "\\", "😀", "👩‍💻", "ü\u0301", "λ",
    "only", "off", "on", "mon-fri", "daily", "sun-sat", "25:99", "08:30", "7pm", "Europe/Berlin", "Mars/Olympus",
    "bibtex", "links", "zh", "xx-YY", "@article{x, title={A}, eprint={2606.00001}}",
    "@paperboy_test_bot",
]
UNKNOWN_COMMANDS = ["quit", "start@paperboy_test_bot", "SUBSCRIBE", "a" * 300, "", "digest@other_bot", "\x00x"]


def hostile_word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.70:
        return rng.choice(PIECES)
    if roll < 0.85:  # random code points, surrogates and controls included
        return "".join(chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0x3000),
                                       rng.randrange(0xD800, 0xE000), rng.randrange(0x1F300, 0x1FAFF)]))
                       for _ in range(rng.randrange(1, 12)))
    if roll < 0.95:
        return rng.choice(PIECES) * rng.randrange(2, 60)
    return rng.choice("ax9\x00é😀") * rng.choice([1_000, 5_000, 20_000])


def chat_input(rng: random.Random) -> str:
    words = " ".join(hostile_word(rng) for _ in range(rng.randrange(0, 5)))
    roll = rng.random()
    if roll < 0.65:
        name = rng.choice([c.name for c in COMMANDS] * 4 + UNKNOWN_COMMANDS)
        return f"/{name} {words}".rstrip() if words or rng.random() < 0.5 else f"/{name}"
    return words or hostile_word(rng)


def payload(rng: random.Random, seen: list[str]) -> str:
    verbs = sorted(registry.ACTION_HANDLERS) + ["nosuch", "", "pg", "pg"]
    if seen and rng.random() < 0.35:
        real = rng.choice(seen)
        verb, _, args = real.partition(":")
        roll = rng.random()
        if roll < 0.3:
            return real  # a real button, pressed again (stale or not)
        if roll < 0.6:
            return f"{verb}:{hostile_word(rng)}"
        return f"{verb}:{args}{hostile_word(rng)}"
    return f"{rng.choice(verbs)}:{':'.join(hostile_word(rng) for _ in range(rng.randrange(0, 3)))}"


@pytest.fixture
def papers(app):
    feed = rss_feed("cs.CL+cs.LG", [
        rss_item(f"2606.0000{i}", f"Paper {i}: sparse <attention> & $x<y$ models", categories=("cs.CL", "cs.LG"),
                 announce_type=("new", "cross", "replace")[i % 3], pub_date=PUB, abstract="An abstract. " * 40)
        for i in range(1, 10)
    ], pub_date=PUB)
    app.store.record_announcements(parse_feed(feed).announcements)


@pytest.fixture
def no_errors(caplog):
    caplog.set_level(logging.WARNING)
    yield
    errors = [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors[:5]


class RecordingConsole(ConsoleSender):
    """The console adapter's sender, remembering each message it printed."""

    def __init__(self) -> None:
        super().__init__(out=io.StringIO())
        self.printed: list[str] = []

    async def send(self, chat_id, message, *, idempotency_key=None):  # type: ignore[no-untyped-def]
        self.printed.append(render(message))
        return await super().send(chat_id, message, idempotency_key=idempotency_key)


async def test_fuzzed_console_input_and_buttons_never_fail_and_stay_within_limits(app, papers, no_errors):
    rng = random.Random(SEED)
    console = RecordingConsole()
    app.attach_sender("console", console)
    started = time.monotonic()
    for i in range(CONSOLE_INPUTS):
        before = len(console.printed)
        roll = rng.random()
        if roll < 0.55:
            line = chat_input(rng)
        elif roll < 0.80 and console.numbers:
            line = str(rng.choice(list(console.numbers)))  # press a real numbered button
        else:
            console.numbers[999_999] = payload(rng, list(console.numbers.values()))
            line = "999999"  # press a forged one
        await handle_line(app, console, line)
        if i % 50 == 0:
            await app.wait_idle()
        new = console.printed[before:]
        assert len(new) <= MAX_MESSAGES_PER_INPUT, (line[:80], len(new))
        for text in new:
            assert len(text) <= CONSOLE_MAX_CHARS, (line[:80], len(text))
            assert APOLOGY not in text, line[:200]
            text.encode("utf-8")  # no lone surrogate reaches the terminal
    await app.wait_idle()
    assert len(console.printed) > CONSOLE_INPUTS // 2  # the bot answered, it did not just stay silent
    assert time.monotonic() - started < 120


@pytest.fixture
def telegram():
    limits = FakeLimits(overall_per_s=10_000, chat_per_s=10_000, group_per_min=100_000, group_edits_per_min=100_000)
    with FakeTelegram(limits=limits, long_poll_s=0.05) as fake:
        fake.chat(GROUP, "supergroup", title="Lab", admins=(ADMIN,))
        yield fake


async def test_fuzzed_telegram_updates_never_fail_and_stay_within_limits(app, settings, papers, telegram, no_errors):
    tg = settings.replace("telegram", token=telegram.token, base_url=telegram.base_url)
    stop = await start_telegram(app, tg, limits=RateLimits(overall_per_s=10_000, chat_per_s=10_000,
                                                           group_per_min=100_000, group_edits_per_min=100_000))
    rng = random.Random(SEED + 1)
    try:
        telegram.text(USER, "/start")
        telegram.text(GROUP, "/start", user_id=ADMIN)
        await _settle(app, telegram)
        for start in range(0, TELEGRAM_INPUTS, BATCH):
            sends_before = len(telegram.calls_to("sendMessage"))
            for _ in range(BATCH):
                _fuzz_one(rng, telegram)
            await _settle(app, telegram)
            assert len(telegram.calls_to("sendMessage")) - sends_before <= BATCH * MAX_MESSAGES_PER_INPUT
    finally:
        await app.wait_idle()
        await stop()
    refused = [(c.method, c.status, c.description) for c in telegram.calls if c.status != 200]
    assert not refused, refused[:5]
    answers = [c.params.get("text") or "" for c in telegram.calls_to("answerCallbackQuery")]
    assert len(answers) >= TELEGRAM_INPUTS // 4  # every press was answered
    sent = [m.get("text", "") for chat in (USER, GROUP) for m in telegram.sent(chat)]
    assert all(APOLOGY not in text for text in sent + answers)


def _fuzz_one(rng: random.Random, telegram: FakeTelegram) -> None:
    chat = rng.choice([USER, USER, GROUP])
    user = USER if chat == USER else rng.choice([ADMIN, MEMBER])
    messages = telegram.sent(chat)
    if rng.random() < 0.5 or not messages:
        text = chat_input(rng)
        if chat == GROUP and rng.random() < 0.3:
            text = f"@paperboy_test_bot {text}"
        telegram.text(chat, text or ".", user_id=user)
        return
    target = rng.choice(messages)
    seen = [b["callback_data"] for m in messages for row in m.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row if "callback_data" in b]
    data = payload(rng, seen)
    # Telegram itself only delivers callback data of 1-64 bytes: longer forgeries cannot arrive.
    data = data.encode("utf-8", "surrogatepass")[:64].decode("utf-8", "ignore") or "x"
    telegram.press(chat, target["message_id"], data, user_id=user)


async def _settle(app, telegram: FakeTelegram, quiet_s: float = 0.25, timeout: float = 30.0) -> None:
    """Wait until every pushed update was fetched and the bot has stopped calling the API for a moment."""
    deadline = time.monotonic() + timeout
    last = -1
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        with telegram._cond:
            pending = bool(telegram._updates) and telegram._updates[-1]["update_id"] >= _last_offset(telegram)
            count = sum(1 for c in telegram.calls if c.method != "getUpdates")
        if count != last or pending:
            last, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            await app.wait_idle()
            return
    raise AssertionError("the Telegram adapter did not settle")


def _last_offset(telegram: FakeTelegram) -> int:
    polls = [c for c in telegram.calls if c.method == "getUpdates"]
    return int(polls[-1].params.get("offset") or 0) if polls else 0
