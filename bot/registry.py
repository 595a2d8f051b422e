"""Where command and button handlers register themselves, one decorator per kind.

A feature module (`bot/handlers.py`, `bot/find_commands.py`, `bot/assistant/commands.py`, ...)
decorates `async def` functions; `bot.features` imports every such module, and the composition root
hands the two tables to `Paperboy`, which dispatches by name. (`bot.app` imports no feature module.)

- `@command("search")`: `async def f(app, ctx, args: str, reply: Reply | None) -> list[Message]`
- `@action("save")`:   `async def f(app, ctx, args: str, message_id: str | None) -> ActionReply`
  for button payloads "save:<args>".
"""

from __future__ import annotations

from collections.abc import Callable

from bot.app import ActionHandler, CommandHandler

__all__ = ["ACTION_HANDLERS", "COMMAND_HANDLERS", "ActionHandler", "CommandHandler", "action", "command"]

COMMAND_HANDLERS: dict[str, CommandHandler] = {}
ACTION_HANDLERS: dict[str, ActionHandler] = {}


def command(name: str) -> Callable[[CommandHandler], CommandHandler]:
    """Register the handler of `/name`."""

    def register(fn: CommandHandler) -> CommandHandler:
        if name in COMMAND_HANDLERS and COMMAND_HANDLERS[name] is not fn:
            raise RuntimeError(f"/{name} is registered twice")
        COMMAND_HANDLERS[name] = fn
        return fn

    return register


def action(verb: str) -> Callable[[ActionHandler], ActionHandler]:
    """Register the handler of button payloads `verb:<args>`."""

    def register(fn: ActionHandler) -> ActionHandler:
        if verb in ACTION_HANDLERS and ACTION_HANDLERS[verb] is not fn:
            raise RuntimeError(f"button action {verb!r} is registered twice")
        ACTION_HANDLERS[verb] = fn
        return fn

    return register
