"""A named lease in the database that one process holds at a time: exactly one scheduler.

The holder renews its lease every `ttl / 3`; a second process (started by mistake, or waiting as
a standby) finds it taken and waits, then takes it over once it has not been renewed for `ttl`,
which is what happens when the holder dies. Plain conditional UPDATEs, so it works the same on
SQLite and PostgreSQL: whoever's UPDATE matched the row holds the lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.schema import ProcessLeaseRow
from digest.db import rows_matched
from digest.schema import as_stored

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "scheduler"
LEASE_TTL = dt.timedelta(seconds=30)


class Lease:
    """`try_acquire()` takes or renews the lease for `holder`; `release()` gives it up."""

    def __init__(self, sessions: sessionmaker[Session], name: str, holder: str, *,
                 clock: Callable[[], dt.datetime], ttl: dt.timedelta = LEASE_TTL) -> None:
        self.sessions = sessions
        self.name = name
        self.holder = holder
        self.clock = clock
        self.ttl = ttl

    def try_acquire(self) -> bool:
        """Take the lease if it is free, expired, ours (then it is renewed) or held by a dead process here."""
        now = as_stored(self.clock())
        with self.sessions() as session:
            row = session.get(ProcessLeaseRow, self.name)
            seen = (row.holder, row.expires_at) if row is not None else None
        if seen is None:
            try:
                with self.sessions.begin() as session:
                    session.add(ProcessLeaseRow(name=self.name, holder=self.holder, acquired_at=now,
                                                expires_at=now + self.ttl))
            except IntegrityError:  # another process inserted it first
                return False
            return True
        holder, expires_at = seen
        if holder != self.holder and expires_at >= now and not _dead_on_this_host(holder):
            return False
        values = {"holder": self.holder, "expires_at": now + self.ttl}
        if holder != self.holder:
            values["acquired_at"] = now
        with self.sessions.begin() as session:  # compare-and-set: only if nobody changed it meanwhile
            result = session.execute(update(ProcessLeaseRow).where(
                ProcessLeaseRow.name == self.name, ProcessLeaseRow.holder == holder,
                ProcessLeaseRow.expires_at == expires_at,
            ).values(**values))
        return bool(rows_matched(result))

    def release(self) -> None:
        with self.sessions.begin() as session:
            session.execute(update(ProcessLeaseRow).where(
                ProcessLeaseRow.name == self.name, ProcessLeaseRow.holder == self.holder,
            ).values(expires_at=as_stored(self.clock()) - dt.timedelta(seconds=1)))


def holder_id() -> str:
    """This process, as a lease holder: "<hostname>:<pid>"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_on_this_host(holder: str) -> bool:
    """A holder "<this host>:<pid>" whose process is gone (a restart need not wait out the lease)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lease_state(sessions: sessionmaker[Session], name: str, now: dt.datetime) -> dict | None:
    """Who holds `name`, until when, and whether that is still in the future."""
    with sessions() as session:
        row = session.scalar(select(ProcessLeaseRow).where(ProcessLeaseRow.name == name))
    if row is None:
        return None
    return {"holder": row.holder, "expires_at": row.expires_at.isoformat(), "fresh": row.expires_at > as_stored(now)}
