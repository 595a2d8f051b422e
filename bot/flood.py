"""Flood limits shared by every sender process, kept in PostgreSQL.

Each limit is a bucket row `flood_buckets(key, next_at)`: the next moment (database clock, epoch
seconds) the bucket admits a request. Reserving a slot is one atomic upsert,
`next_at = greatest(next_at, now) + interval`, which returns when the slot starts (a GCRA: requests
are spaced `interval` apart, whichever process makes them). A chat's own buckets are anchored at
the slot its request really got (`take_with`). The database clock is the one clock, so senders on
several machines agree.

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
    "ON CONFLICT (key) DO UPDATE "
    "SET next_at = greatest(flood_buckets.next_at, extract(epoch FROM clock_timestamp())) + :iv "
    "RETURNING next_at - :iv - extract(epoch FROM clock_timestamp())"
)
_ENSURE = text("INSERT INTO flood_buckets (key, next_at) VALUES (:key, 0) ON CONFLICT (key) DO NOTHING")
_LOCK_BUSY = text(
    "SELECT max(next_at) - extract(epoch FROM clock_timestamp()) FROM "
    "(SELECT next_at FROM flood_buckets WHERE key = ANY(:keys) ORDER BY key FOR UPDATE) AS locked"
)
_BUSY = text("SELECT max(next_at) - extract(epoch FROM clock_timestamp()) FROM flood_buckets WHERE key = ANY(:keys)")
PRUNE_EVERY = 5000
_PRUNE = text("DELETE FROM flood_buckets WHERE next_at < extract(epoch FROM clock_timestamp()) - 3600")
_ANCHOR = text("UPDATE flood_buckets SET next_at = extract(epoch FROM clock_timestamp()) + :at WHERE key = :key")


class SharedBuckets:
    """GCRA buckets in PostgreSQL; every method is one short transaction (run it off the event loop)."""

    def __init__(self, engine: Engine) -> None:
        # A small pool of its own, with asynchronous commit: losing a bucket's last moment in a crash is harmless.
        self.engine = create_engine(engine.url, pool_size=4, max_overflow=8, pool_pre_ping=True,
                                    connect_args={"options": "-c synchronous_commit=off"})
        self._calls = 0

    def reserve(self, buckets: list[Bucket]) -> float:
        """Take the next slot of every bucket; returns the seconds to wait for the latest of them."""
        wait = 0.0
        with self.engine.begin() as conn:
            for key, interval in sorted(buckets):
                wait = max(wait, float(conn.execute(_RESERVE, {"key": key, "iv": interval}).scalar_one()))
        return wait

    def take_with(self, own: list[Bucket], shared: Bucket) -> float | None:
        """Take `own` buckets (a chat's) only if all are free now, plus the next `shared` slot.

        Returns the seconds to wait for the shared slot, or None when an own bucket is busy (then
        nothing is taken). The own buckets are anchored at the shared slot, `slot + interval`, so
        two requests to one chat are spaced from when they really go out, whoever sends them.
        """
        with self.engine.connect() as conn:
            for key, _ in sorted(own):
                conn.execute(_ENSURE, {"key": key})
            busy = conn.execute(_LOCK_BUSY, {"keys": [k for k, _ in own]}).scalar_one()
            if busy is not None and busy > 0:
                conn.rollback()
                return None
            wait = float(conn.execute(_RESERVE, {"key": shared[0], "iv": shared[1]}).scalar_one())
            for key, interval in sorted(own):
                conn.execute(_ANCHOR, {"key": key, "at": max(wait, 0.0) + interval})
            conn.commit()
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:  # a row per chat ever sent to: forget the long-idle ones
            with self.engine.begin() as conn:
                conn.execute(_PRUNE)
        return wait

    def busy_for(self, own: list[Bucket]) -> float:
        """Seconds until every own bucket is free (0 when free now)."""
        with self.engine.connect() as conn:
            busy = conn.execute(_BUSY, {"keys": [k for k, _ in own]}).scalar_one()
        return max(float(busy or 0.0), 0.0)

    async def wait_for(self, buckets: list[Bucket]) -> None:
        """Reserve slots and sleep until they start."""
        delay = await asyncio.to_thread(self.reserve, buckets)
        if delay > 0:
            await asyncio.sleep(delay)

    def dispose(self) -> None:
        self.engine.dispose()
