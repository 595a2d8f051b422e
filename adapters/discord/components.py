"""Buttons that outlive the process: one `DynamicItem` for every paperboy action payload.

A paperboy button carries its action payload ("faq:2501.01234", "pg:17:2", ...) in the Discord
`custom_id` as `pb:<action>`. `ActionButton` is registered once with `client.add_dynamic_items`
in `setup_hook`, so discord.py rebuilds it from the `custom_id` of any press, including presses on
messages sent before a restart. No view state lives in memory.

Discord rejects a message whose components repeat a `custom_id`; a repeated action gets a `#n`
suffix, which the template ignores.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from digest.message import Button

__all__ = ["CUSTOM_ID_PREFIX", "MAX_PER_ROW", "MAX_ROWS", "ActionButton", "ButtonPressHandler", "build_view"]

CUSTOM_ID_PREFIX = "pb:"
MAX_ROWS = 5
MAX_PER_ROW = 5
MAX_LABEL = 80
MAX_URL = 512


class ButtonPressHandler(Protocol):
    """What the client offers `ActionButton`: the adapter code that runs a press."""

    async def on_paperboy_button(self, interaction: discord.Interaction[Any], action: str) -> None:
        """Handle a press of the button whose action payload is `action`."""


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"pb:(?P<action>[^#]+)(?:#\d+)?"):
    """A button whose press sends its paperboy action payload to the bot, before or after a restart."""

    def __init__(self, action: str, label: str = "", *, custom_id: str | None = None, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=_label(label) or action,
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id or CUSTOM_ID_PREFIX + action,
                row=row,
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        button = item if isinstance(item, discord.ui.Button) else None
        return cls(match["action"], (button.label if button else "") or "", custom_id=match.group(0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = interaction.client
        if not hasattr(handler, "on_paperboy_button"):  # a plain Client without paperboy attached
            return
        await handler.on_paperboy_button(interaction, self.action)  # type: ignore[attr-defined]


def build_view(rows: tuple[tuple[Button, ...], ...]) -> list[discord.ui.View]:
    """The buttons as views of at most 5 rows of 5; more than 25 buttons need several messages."""
    flat_rows: list[tuple[Button, ...]] = []
    for row in rows:
        for start in range(0, len(row), MAX_PER_ROW):
            chunk = tuple(b for b in row[start:start + MAX_PER_ROW] if _usable(b))
            if chunk:
                flat_rows.append(chunk)
    views: list[discord.ui.View] = []
    for start in range(0, len(flat_rows), MAX_ROWS):
        view = discord.ui.View(timeout=None)
        seen: dict[str, int] = {}
        for index, row in enumerate(flat_rows[start:start + MAX_ROWS]):
            for button in row:
                view.add_item(_item(button, index, seen))
        views.append(view)
    return views


def _item(button: Button, row: int, seen: dict[str, int]) -> discord.ui.Item[Any]:
    if button.url is not None:
        return discord.ui.Button(label=_label(button.label) or "Open", url=button.url, row=row)
    action = button.action or ""
    custom_id = CUSTOM_ID_PREFIX + action
    count = seen.get(custom_id, 0)
    seen[custom_id] = count + 1
    if count:
        custom_id = f"{custom_id}#{count}"
    return ActionButton(action, button.label, custom_id=custom_id, row=row)


def _usable(button: Button) -> bool:
    """Discord refuses link buttons with anything but a short http(s) URL; such buttons are dropped."""
    if button.url is None:
        return True
    return button.url.startswith(("http://", "https://")) and len(button.url) <= MAX_URL


def _label(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
