"""Secrets never reach a log: every configured secret is replaced by `***` in every log record.

The secrets are the bot tokens, the LLM API key, the webhook secret and the database password
(`secrets_of(settings)`). Libraries put them in places we do not control: python-telegram-bot logs
`Set Bot API URL: …/bot<token>` at DEBUG, and a rejected token raises ``InvalidToken: The token
`<token>` was rejected``, whose traceback any handler would print. So redaction happens where
every record is born, not in one handler:

- a log record factory (`logging.setLogRecordFactory`) scrubs each record as it is created, on
  every logger (the libraries' included) and at every level: the formatted message, the stack
  info, and the exception with its whole cause/context chain (its args and `message` are
  rewritten in place, and the formatted traceback is pre-rendered redacted into `exc_text`), so
  a handler added later (a log file, a JSON formatter) sees only scrubbed records;
- the same scrubbing is also a `logging.Filter` put on the root logger's handlers, for records
  made without the factory (`logging.makeLogRecord`);
- `sys.excepthook` and `threading.excepthook` print redacted tracebacks for crashes outside
  logging.

Besides the configured values, anything shaped like a Telegram bot token (`123456:AA…`, 30+
characters after the colon) is redacted too. Secrets shorter than `MIN_SECRET_CHARS` are not
redacted (they would blank out ordinary words); the README says so.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

__all__ = ["MASK", "MIN_SECRET_CHARS", "Redactor", "install_redaction", "redactor", "secrets_of"]

MASK = "***"
MIN_SECRET_CHARS = 4
_TELEGRAM_TOKEN = r"\d{5,}:[A-Za-z0-9_-]{30,}"


class Redactor(logging.Filter):
    """Knows the secrets; scrubs text and log records. One per process: `redactor`."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern = re.compile(_TELEGRAM_TOKEN)

    def add(self, secrets: Iterable[str | None]) -> None:
        """Remember more secrets (with their URL-encoded forms); short or empty ones are ignored."""
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                self._secrets.update({secret, quote(secret, safe=""), quote(secret)})
        longest_first = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join([*map(re.escape, longest_first), _TELEGRAM_TOKEN]))

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        return self._pattern.sub(MASK, text) if text else text

    def filter(self, record: logging.LogRecord) -> bool:
        self.scrub(record)
        return True

    def scrub(self, record: logging.LogRecord) -> None:
        """Rewrite a record in place so no secret is left in its message, stack or exception."""
        if getattr(record, "_paperboy_scrubbed", False):
            return
        record._paperboy_scrubbed = True  # type: ignore[attr-defined]
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it later; leave it be
            message = None
        if message is not None:
            clean = self.redact(message)
            if clean != message or record.args:
                record.msg, record.args = clean, None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        if exc is not None:
            self.scrub_exception(exc)
            record.exc_text = self.redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))  # type: ignore[misc]

    def scrub_exception(self, exc: BaseException) -> None:
        """Redact the args (and `message`) of an exception and of every exception it chains to."""
        seen: set[int] = set()
        stack: list[BaseException | None] = [exc]
        while stack:
            current = stack.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            try:
                current.args = tuple(self.redact(a) if isinstance(a, str) else a for a in current.args)
                message = getattr(current, "message", None)
                if isinstance(message, str):
                    current.message = self.redact(message)  # type: ignore[attr-defined]
            except Exception:  # an exception type with read-only attributes: exc_text still covers it
                pass
            stack.extend([current.__cause__, current.__context__])  # type: ignore[list-item]


redactor = Redactor()
_installed = False


def secrets_of(settings: Any) -> list[str]:
    """Every secret the settings hold: bot tokens, API key, webhook secret, database password."""
    from sqlalchemy.engine import make_url

    found = [secret.get_secret_value() for secret in (settings.telegram.token, settings.telegram.webhook_secret,
                                                       settings.discord.token, settings.llm.api_key)]
    try:
        found.append(make_url(settings.database.url).password)
    except Exception:  # an unparsable URL fails loudly elsewhere, without us
        pass
    return [s for s in found if s]


def install_redaction(settings: Any | None = None, extra: Iterable[str] = ()) -> Redactor:
    """Redact the settings' secrets from every log record from now on (idempotent; secrets add up)."""
    global _installed
    redactor.add([*(secrets_of(settings) if settings is not None else []), *extra])
    if not _installed:
        _installed = True
        _wrap_record_factory()
        sys.excepthook = _redacting_excepthook
        threading.excepthook = _redacting_thread_excepthook
    for handler in logging.getLogger().handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    return redactor


def _wrap_record_factory() -> None:
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redactor.scrub(record)
        return record

    logging.setLogRecordFactory(factory)


def _redacting_excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    redactor.scrub_exception(value)
    sys.stderr.write(redactor.redact("".join(traceback.format_exception(kind, value, tb))))


def _redacting_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        redactor.scrub_exception(args.exc_value)
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(redactor.redact(f"Exception in thread {getattr(args.thread, 'name', '?')}:\n{text}"))
