"""Telegram adapter: paperboy on python-telegram-bot 22 (HTML rendering, flood control, handlers)."""

from adapters.telegram.app import build_telegram, register_commands, run_telegram, start_telegram
from adapters.telegram.limits import RateLimiter, RateLimits
from adapters.telegram.render import TelegramPayload, render, render_plain
from adapters.telegram.sender import TelegramSender, chat_ref, tg_chat_id

__all__ = [
    "RateLimiter",
    "RateLimits",
    "TelegramPayload",
    "TelegramSender",
    "build_telegram",
    "chat_ref",
    "register_commands",
    "render",
    "render_plain",
    "run_telegram",
    "start_telegram",
    "tg_chat_id",
]
