"""Every chat feature: importing this module registers each command and button handler.

The composition root imports it and hands `bot.registry`'s two tables to `Paperboy`. A new
feature module registers with `@command`/`@action` and is listed here, nowhere else.
"""

from __future__ import annotations

from bot import digest_commands, find_commands, handlers
from bot.assistant import commands as assistant_commands
from bot.registry import ACTION_HANDLERS, COMMAND_HANDLERS

__all__ = ["ACTION_HANDLERS", "COMMAND_HANDLERS", "FEATURE_MODULES"]

FEATURE_MODULES = (handlers, digest_commands, find_commands, assistant_commands)
