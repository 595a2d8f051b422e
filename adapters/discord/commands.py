"""Slash commands generated from `bot.command_specs.COMMANDS`, one `app_commands.Command` each.

Every command has the spec's string options (autocompleted when the spec names a `complete`
kind) and forwards itself to paperboy as the text command it stands for: `/time time:08:30
zone:Europe/Berlin` becomes "/time 08:30 Europe/Berlin", so the core parses one syntax for every
platform. `PaperboyTree` routes command errors to the adapter's single error sink.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Optional

import discord
from discord import app_commands

from adapters.discord.autocomplete import suggest
from adapters.discord.interactions import InteractionHandler
from bot.command_specs import COMMANDS, CommandSpec, Param

__all__ = ["PaperboyTree", "add_commands", "build_command", "command_text"]

log = logging.getLogger(__name__)


class PaperboyTree(app_commands.CommandTree):
    """The command tree, with failures sent to the interaction handler's error sink."""

    handler: InteractionHandler | None = None

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        if self.handler is None:
            await super().on_error(interaction, error)
            return
        await self.handler.apologize(interaction, error)


def command_text(spec: CommandSpec, values: dict[str, str | None]) -> str:
    """The text command a slash command stands for, options in the spec's order."""
    args = [str(values[p.name]).strip() for p in spec.params if values.get(p.name) not in (None, "")]
    return " ".join([f"/{spec.name}", *args])


def build_command(spec: CommandSpec, handler: InteractionHandler) -> app_commands.Command[Any, ..., None]:
    """One slash command for `spec`, whose callback forwards to `handler.run_command`."""

    async def callback(interaction: discord.Interaction[Any], **values: str | None) -> None:
        await handler.run_command(interaction, command_text(spec, values))

    # discord.py reads a command's options from its callback's signature: give it the spec's.
    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
    for param in spec.params:
        parameters.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str if param.required else Optional[str],  # noqa: UP045 (discord.py reads it at runtime)
                default=inspect.Parameter.empty if param.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    described = app_commands.describe(**{p.name: p.description[:100] for p in spec.params})(callback)
    completing = {p.name: _autocomplete(p) for p in spec.params if p.complete}
    if completing:
        described = app_commands.autocomplete(**completing)(described)
    return app_commands.Command(name=spec.name, description=spec.description[:100], callback=described)


def _autocomplete(param: Param) -> Any:
    async def complete(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        try:
            return [app_commands.Choice(name=name, value=value) for name, value in suggest(param.complete, current)]
        except Exception:  # suggestions are a nicety: never let them break typing
            log.warning("autocomplete for %s failed", param.name, exc_info=True)
            return []

    return complete


def add_commands(tree: PaperboyTree, handler: InteractionHandler, specs: tuple[CommandSpec, ...] = COMMANDS) -> None:
    """Register every command of `specs` on `tree` (globally: servers and DMs alike)."""
    tree.handler = handler
    for spec in specs:
        tree.add_command(build_command(spec, handler))
