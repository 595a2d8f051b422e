"""Flood limits shared by every sender process, kept in PostgreSQL.

Each limit is a bucket row `flood_buckets(key, next_at)`: the next moment (database clock, epoch
seconds) the bucket admits a request. Reserving a slot is one atomic upsert,
`next_at = greatest(next_at, now) + interval`, which returns when the slot starts (a GCRA: requests
are spaced `interval` apart, whichever process makes them). After the answer, `settle` pushes the
bucket to `answered + interval`, so a slow request never lets the next one come too close behind.
The database clock is the one clock, so senders on several machines agree.

Only PostgreSQL needs this: on SQLite there is one machine, and each adapter's in-memory limiter
(`adapters/telegram/limits.py`, discord.py's own buckets) holds the limits. These rows are
throw-away state, so their transactions skip the wait for a durable commit.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, create_engine, text

Bucket = tuple[str, float]  # key, seconds between requests

_RESERVE = text(
    "INSERT INTO flood_buckets (key, next_at) VALUES (:key, extract(epoch FROM clock_timestamp()) + :iv) "
    "ON CONFLICT (key) DO UPDATE SET next_at = greatest(flood_buckets.next_at, extract(epoch FROM clock_timestamp())) + :iv "
    "RETURNING next_at - :iv - extract(epoch FROM clock_timestamp())"
)
_TAKE_NOW = text(
    "INSERT INTO flood_buckets (key, next_at) VALUES (:key, extract(epoch FROM clock_timestamp()) + :iv) "
    "ON CONFLICT (key) DO UPDATE SET next_at = extract(epoch FROM clock_timestamp()) + :iv "
    "WHERE flood_buckets.next_at <= extract(epoch FROM clock_timestamp()) RETURNING 1"
)
_SETTLE = text(
    "UPDATE flood_buckets SET next_at = greatest(next_at, extract(epoch FROM clock_timestamp()) + :iv) WHERE key = :key"
)


class SharedBuckets:
    """GCRA buckets in PostgreSQL; every method is one short transaction (run it off the event loop)."""

    def __init__(self, engine: Engine) -> None:
        # A small pool of its own, with asynchronous commit: losing a bucket's last moment in a crash is harmless.
        self.engine = create_engine(engine.url, pool_size=4, max_overflow=8, pool_pre_ping=True,
                                    connect_args={"options": "-c synchronous_commit=off"})

    def reserve(self, buckets: list[Bucket]) -> float:
        """Take the next slot of every bucket; returns the seconds to wait for the latest of them."""
        wait = 0.0
        with self.engine.begin() as conn:
            for key, interval in sorted(buckets):
                wait = max(wait, float(conn.execute(_RESERVE, {"key": key, "iv": interval}).scalar_one()))
        return wait

    def take_now(self, buckets: list[Bucket]) -> bool:
        """Take a slot of every bucket only if all are free now (nothing is taken otherwise)."""
        with self.engine.connect() as conn:
            for key, interval in sorted(buckets):
                if conn.execute(_TAKE_NOW, {"key": key, "iv": interval}).first() is None:
                    conn.rollback()
                    return False
            conn.commit()
        return True

    def settle(self, buckets: list[Bucket]) -> None:
        """The request was answered: the next one waits a full interval from now."""
        with self.engine.begin() as conn:
            for key, interval in sorted(buckets):
                conn.execute(_SETTLE, {"key": key, "iv": interval})

    async def wait_for(self, buckets: list[Bucket]) -> None:
        """Reserve slots and sleep until they start."""
        delay = await asyncio.to_thread(self.reserve, buckets)
        if delay > 0:
            await asyncio.sleep(delay)

    def dispose(self) -> None:
        self.engine.dispose()
