"""Sync the slash commands with Discord only when they changed since the last sync.

Discord rate limits command registration (200 creates a day), and a bulk overwrite at every start
would spend that for nothing. The fingerprint of the commands' JSON is stored per application in
`discord_command_sync` (on `digest.db.Base`, so migrations and `create_all` see it) and the tree is
synced only when it differs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from sqlalchemy import DateTime, Engine, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from digest.db import Base

__all__ = ["DiscordCommandSyncRow", "commands_fingerprint", "sync_if_changed"]

log = logging.getLogger(__name__)


class DiscordCommandSyncRow(Base):
    """The fingerprint of the command set last synced for one Discord application."""

    __tablename__ = "discord_command_sync"

    application_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[dt.datetime] = mapped_column(DateTime)


def commands_fingerprint(tree: app_commands.CommandTree[Any]) -> str:
    """A hash of exactly what a sync would send for the global commands."""
    payload = sorted((command.to_dict(tree) for command in tree.get_commands()), key=lambda c: c["name"])
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _stored(engine: Engine, application_id: str) -> str | None:
    DiscordCommandSyncRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
    with Session(engine) as session:
        return session.scalar(
            select(DiscordCommandSyncRow.fingerprint).where(DiscordCommandSyncRow.application_id == application_id)
        )


def _store(engine: Engine, application_id: str, fingerprint: str) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(DiscordCommandSyncRow, application_id)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        if row is None:
            session.add(DiscordCommandSyncRow(application_id=application_id, fingerprint=fingerprint, synced_at=now))
        else:
            row.fingerprint, row.synced_at = fingerprint, now


async def sync_if_changed(tree: app_commands.CommandTree[Any], engine: Engine, application_id: int) -> bool:
    """Sync the global commands if they differ from the last sync; True when a sync happened."""
    key = str(application_id)
    fingerprint = commands_fingerprint(tree)
    if await asyncio.to_thread(_stored, engine, key) == fingerprint:
        log.debug("Discord slash commands unchanged; not syncing")
        return False
    try:
        synced = await tree.sync()
    except discord.HTTPException:
        log.error("could not sync the Discord slash commands; will retry at the next start", exc_info=True)
        return False
    await asyncio.to_thread(_store, engine, key, fingerprint)
    log.info("synced %d Discord slash commands", len(synced))
    return True
