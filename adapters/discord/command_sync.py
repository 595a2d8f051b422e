"""Sync the slash commands with Discord only when they changed since the last sync.

Discord rate limits command registration (200 creates a day), and a bulk overwrite at every start
would spend that for nothing. The fingerprint of the commands' JSON is kept per application in the
bot's key-value state (`bot.state`, key `discord:commands:<application id>`) and the tree is
synced only when it differs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from sqlalchemy.orm import Session, sessionmaker

from bot.state import get_state, set_state

__all__ = ["commands_fingerprint", "sync_if_changed"]

log = logging.getLogger(__name__)


def commands_fingerprint(tree: app_commands.CommandTree[Any]) -> str:
    """A hash of exactly what a sync would send for the global commands."""
    payload = sorted((command.to_dict(tree) for command in tree.get_commands()), key=lambda c: c["name"])
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def sync_if_changed(tree: app_commands.CommandTree[Any], sessions: sessionmaker[Session],
                          application_id: int) -> bool:
    """Sync the global commands if they differ from the last sync; True when a sync happened."""
    key = f"discord:commands:{application_id}"
    fingerprint = commands_fingerprint(tree)
    if await asyncio.to_thread(get_state, sessions, key) == fingerprint:
        log.debug("Discord slash commands unchanged; not syncing")
        return False
    try:
        synced = await tree.sync()
    except discord.HTTPException:
        log.error("could not sync the Discord slash commands; will retry at the next start", exc_info=True)
        return False
    await asyncio.to_thread(set_state, sessions, key, fingerprint)
    log.info("synced %d Discord slash commands", len(synced))
    return True
