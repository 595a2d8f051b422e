"""A tiny persistent key-value store for adapters' bookkeeping (`bot_state` table).

Adapters may not define tables of their own (the schema is migrated from `bot/`), so a fact like
"the Discord commands last synced had fingerprint X" lives here under a namespaced key.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.schema import BotStateRow
from digest.schema import utcnow


def get_state(sessions: sessionmaker[Session], key: str) -> str | None:
    with sessions() as session:
        row = session.get(BotStateRow, key)
        return row.value if row else None


def set_state(sessions: sessionmaker[Session], key: str, value: str) -> None:
    with sessions.begin() as session:
        row = session.get(BotStateRow, key)
        if row is None:
            session.add(BotStateRow(key=key, value=value, updated_at=utcnow()))
        else:
            row.value, row.updated_at = value, utcnow()
