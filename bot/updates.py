"""Each incoming update handled once by the whole fleet of bot processes.

Telegram redelivers a webhook update it is unsure about, and behind a load balancer the retry may
reach another process than the first attempt. `first_delivery` records the update's key in
`seen_updates`; only the process whose insert succeeds handles it. Keys older than two days are
swept now and then (Telegram gives up redelivering long before).
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.schema import SeenUpdateRow
from digest.schema import as_stored

KEEP = dt.timedelta(days=2)
SWEEP_EVERY = 1000
_inserts = itertools.count(1)


def first_delivery(sessions: sessionmaker[Session], key: str, now: dt.datetime) -> bool:
    """True for the first process to see `key`, False for every redelivery."""
    stored = as_stored(now)
    try:
        with sessions.begin() as session:
            session.add(SeenUpdateRow(key=key, seen_at=stored))
    except IntegrityError:
        return False
    if next(_inserts) % SWEEP_EVERY == 0:
        with sessions.begin() as session:
            session.execute(delete(SeenUpdateRow).where(SeenUpdateRow.seen_at < stored - KEEP))
    return True
