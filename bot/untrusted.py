"""Untrusted input at the edge: what every chat message and button payload goes through first.

`Paperboy.handle_text` and `Paperboy.handle_action` clean every incoming text here (NUL bytes,
lone surrogates and other control characters out, length bounded), whatever the adapter, so no
handler ever sees them and no database is asked to store them. Button payloads are forgeable
(Telegram's callback data and Discord's custom ids come back from the client as sent, or as the
client pleases), so the numbers in them are read with `payload_ints`, which range-checks them: a
forged or stale payload raises `ExpiredButton`, answered with `BUTTON_EXPIRED`, never a traceback.
"""

from __future__ import annotations

from digest.clean import clean_text
from digest.errors import BadInput

__all__ = ["BUTTON_EXPIRED", "MAX_ACTION_CHARS", "MAX_TEXT_CHARS", "ExpiredButton", "clean_action",
           "clean_message", "payload_ints"]

BUTTON_EXPIRED = "This button has expired."
MAX_TEXT_CHARS = 20_000  # Telegram allows 4,096 per message and Discord 4,000; a terminal paste more
MAX_ACTION_CHARS = 200  # Telegram's callback data holds 64 bytes and Discord's custom ids 100 characters
MAX_ROW_ID = 2**63 - 1  # the largest id a database integer column holds
MAX_PAGE = 100_000


class ExpiredButton(BadInput):
    """A button payload that is forged, stale or unreadable."""

    def __init__(self) -> None:
        super().__init__(BUTTON_EXPIRED)


def clean_message(text: str) -> str:
    """A chat message as the handlers may see it: no control characters, at most `MAX_TEXT_CHARS`."""
    return clean_text(str(text)[: MAX_TEXT_CHARS * 2])[:MAX_TEXT_CHARS]


def clean_action(payload: str) -> str | None:
    """A button payload without control characters, or None when it is too long to be ours."""
    payload = clean_text(str(payload), keep_newlines=False)
    return payload if payload and len(payload) <= MAX_ACTION_CHARS else None


def payload_ints(args: str, *uppers: int) -> tuple[int, ...]:
    """`args` ("12:3") as whole numbers, each within 0..upper; `ExpiredButton` for anything else."""
    parts = args.split(":")
    if len(parts) != len(uppers):
        raise ExpiredButton()
    values = []
    for part, upper in zip(parts, uppers):
        if not (part.isascii() and part.isdigit()) or len(part) > 19 or int(part) > upper:
            raise ExpiredButton()
        values.append(int(part))
    return tuple(values)
