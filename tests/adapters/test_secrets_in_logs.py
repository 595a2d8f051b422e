"""No secret in any log (issue 10, problem 3): each adapter started with DEBUG logging and a token the
platform rejects, every library logger at DEBUG, a handler added after redaction was installed.

The case that found it: at DEBUG, python-telegram-bot logs `Set Bot API URL: …/bot<token>`, and a
rejected token raises ``InvalidToken: The token `<token>` was rejected`` whose traceback any
handler printed.
"""

from __future__ import annotations

import io
import logging
import sys

import discord
import pytest

from bot.config import DatabaseSettings, DiscordSettings, LLMSettings, Settings, TelegramSettings
from bot.redact import MASK, install_redaction
from digest.errors import PaperboyError
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_telegram import FakeTelegram

WRONG_TG_TOKEN = "987654321:AAE-rejected-token-for-the-log-test_x"
WRONG_DC_TOKEN = "MTA1-discord-rejected-token.for-the-log-test"
API_KEY = "sk-test-api-key-never-logged"
WEBHOOK_SECRET = "webhook-secret-never-logged"
DB_PASSWORD = "db-password-never-logged"
SECRETS = (WRONG_TG_TOKEN, WRONG_DC_TOKEN, API_KEY, WEBHOOK_SECRET, DB_PASSWORD)


def secret_settings(**sections) -> Settings:
    return Settings(
        database=DatabaseSettings(url=f"postgresql+psycopg://paperboy:{DB_PASSWORD}@127.0.0.1/paperboy"),
        telegram=TelegramSettings(token=WRONG_TG_TOKEN, webhook_secret=WEBHOOK_SECRET),
        discord=DiscordSettings(token=WRONG_DC_TOKEN),
        llm=LLMSettings(api_key=API_KEY),
    ).replace("telegram", **sections.get("telegram", {})).replace("discord", **sections.get("discord", {}))


@pytest.fixture
def captured():
    """Everything logged at DEBUG by every logger, through a handler added after `install_redaction`."""
    install_redaction(secret_settings())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "telegram", "discord")}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in saved[1]:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret[:8]}… leaked into the logs"
    assert "987654321:AAE" not in text


async def test_telegram_with_a_rejected_token_logs_no_secret(app, settings, captured):
    from adapters.telegram import start_telegram
    from adapters.telegram.app import build_telegram

    with FakeTelegram() as telegram:  # knows another token: getMe answers 401
        tg = settings.replace("telegram", token=WRONG_TG_TOKEN, base_url=telegram.base_url)
        with pytest.raises(PaperboyError, match="telegram.token"):
            await start_telegram(app, tg)
        # The library's own exception, logged with its traceback as an error sink would.
        application = build_telegram(app, tg)
        try:
            await application.initialize()
        except Exception:
            logging.getLogger("paperboy.test").exception("Telegram start failed")
    text = captured.getvalue()
    assert "was rejected" in text and "Traceback" in text  # the traceback is logged, only redacted
    assert "Set Bot API URL" in text and MASK in text
    assert_no_secret(text)


@pytest.mark.parametrize("configured_secret", [WEBHOOK_SECRET, ""])
async def test_telegram_webhook_mode_logs_neither_token_nor_webhook_secret(app, settings, captured, configured_secret):
    import socket

    from adapters.telegram import start_telegram

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeTelegram() as telegram:
        tg = settings.replace("telegram", token=telegram.token, base_url=telegram.base_url,
                              webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret=configured_secret,
                              webhook_listen="127.0.0.1", webhook_port=port)
        install_redaction(tg)
        stop = await start_telegram(app, tg)
        await stop()
        secret = telegram.webhook["secret_token"]  # the configured one, or the one generated at start
    text = captured.getvalue()
    assert "setWebhook" in text  # PTB logged the call and its parameters...
    assert secret not in text and telegram.token not in text  # ...without the secrets


async def test_discord_with_a_rejected_token_logs_no_secret(captured):
    from adapters.discord import start_discord
    from adapters.discord.app import configure_endpoints

    async with FakeDiscord(token="the-right-token") as fake:
        settings = secret_settings(discord={"api_url": fake.api_url, "gateway_url": fake.gateway_url})
        try:
            with pytest.raises(discord.LoginFailure):
                await start_discord(_NoCore(), settings)
        finally:
            configure_endpoints(DiscordSettings())
    try:
        raise RuntimeError(f"login with {WRONG_DC_TOKEN} failed") from discord.LoginFailure(f"token {WRONG_DC_TOKEN}")
    except RuntimeError:
        logging.getLogger("discord.client").debug("as a library might log it", exc_info=True)
    text = captured.getvalue()
    assert "discord.token" in text and "401" in text
    assert_no_secret(text)


def test_every_secret_is_redacted_at_every_level_in_messages_args_and_tracebacks(captured):
    log = logging.getLogger("httpx")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
        for secret in SECRETS:
            log.log(level, "HTTP Request: GET https://api.telegram.org/bot%s/getMe", secret)
            log.log(level, f"inline {secret} and url-encoded {secret.replace(':', '%3A')}")
    try:
        raise ValueError(f"The token `{WRONG_TG_TOKEN}` was rejected by the server")
    except ValueError:
        logging.getLogger("telegram.ext").warning("no", exc_info=True)
    text = captured.getvalue()
    assert text.count(MASK) >= 5 * len(SECRETS) * 2
    assert_no_secret(text)


def test_an_uncaught_crash_prints_a_redacted_traceback(capsys):
    install_redaction(secret_settings())
    try:
        raise RuntimeError(f"boom with {API_KEY}")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    err = capsys.readouterr().err
    assert "boom with ***" in err and API_KEY not in err


class _NoCore:
    """A stand-in core: the adapter attaches its sender and never gets further than login."""

    sessions = None

    def attach_sender(self, platform, sender) -> None:
        pass


def test_paperboy_run_with_a_rejected_token_says_so_and_prints_no_secret(tmp_path):
    import os
    import subprocess

    with FakeTelegram() as telegram:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
        env.update(PAPERBOY_TELEGRAM__TOKEN=WRONG_TG_TOKEN, PAPERBOY_TELEGRAM__BASE_URL=telegram.base_url,
                   PAPERBOY_LLM__API_KEY=API_KEY, PAPERBOY_LOGGING__LEVEL="DEBUG",
                   PAPERBOY_DATABASE__URL=f"sqlite:///{tmp_path / 'run.sqlite3'}")
        done = subprocess.run([sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())", "run"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert "Telegram rejected telegram.token" in done.stderr
    assert "DEBUG" in output and "Set Bot API URL" in output  # the whole DEBUG log, redacted
    assert_no_secret(output)
