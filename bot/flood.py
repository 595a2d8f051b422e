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

`take_with` runs once per Telegram message, so it is a single network round trip: its statements go
out together in a psycopg pipeline (`bot.pg_pipeline`), and the chat check, the overall slot and
the chat's anchor are one conditional statement.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple

from sqlalchemy import Engine, create_engine, text

from bot.db_thread import in_db_thread
from bot.pg_pipeline import Pipelined

Bucket = tuple[str, float]  # key, seconds between requests


class Taken(NamedTuple):
    """A slot taken by `take_with`: seconds until it starts, and the anchors set on the own buckets."""

    wait: float
    anchors: tuple[float, ...]


_NOW = "extract(epoch FROM clock_timestamp())"
# take_with, as raw psycopg statements sent together (see SharedBuckets.take_with).
_PG_ENSURE = "INSERT INTO flood_buckets (key, next_at) SELECT unnest(%(all)s::text[]), 0 ON CONFLICT (key) DO NOTHING"
_PG_LOCK = "SELECT key FROM flood_buckets WHERE key = ANY(%(own)s::text[]) ORDER BY key FOR UPDATE"
_PG_TAKE = (
    f"WITH slot AS (UPDATE flood_buckets SET next_at = greatest(next_at, {_NOW}) + %(iv)s "
    f"  WHERE key = %(shared)s AND NOT EXISTS "
    f"  (SELECT 1 FROM flood_buckets WHERE key = ANY(%(own)s::text[]) AND next_at > {_NOW} "
    f"   AND NOT next_at = ANY(%(mine)s::float8[])) "
    f"  RETURNING next_at - %(iv)s AS start), "
    f"anchor AS (UPDATE flood_buckets AS b SET next_at = greatest(slot.start, {_NOW}) + v.iv "
    f"  FROM slot, unnest(%(own)s::text[], %(ivs)s::float8[]) AS v(key, iv) WHERE b.key = v.key "
    f"  RETURNING b.next_at) "
    f"SELECT start - {_NOW}, (SELECT array_agg(next_at) FROM anchor) FROM slot"
)

_RESERVE = text(
    "INSERT INTO flood_buckets (key, next_at) VALUES (:key, extract(epoch FROM clock_timestamp()) + :iv) "
    "ON CONFLICT (key) DO UPDATE "
    "SET next_at = greatest(flood_buckets.next_at, extract(epoch FROM clock_timestamp())) + :iv "
    "RETURNING next_at - :iv - extract(epoch FROM clock_timestamp())"
)
_BUSY = text("SELECT max(next_at) - extract(epoch FROM clock_timestamp()) FROM flood_buckets WHERE key = ANY(:keys)")
PRUNE_EVERY = 5000
_PRUNE = text("DELETE FROM flood_buckets WHERE next_at < extract(epoch FROM clock_timestamp()) - 3600")


class SharedBuckets:
    """GCRA buckets in PostgreSQL; every method is one short transaction (run it off the event loop)."""

    def __init__(self, engine: Engine) -> None:
        # A small pool of its own, with asynchronous commit: losing a bucket's last moment in a crash is harmless.
        self.engine = create_engine(engine.url, pool_size=4, max_overflow=8, pool_pre_ping=True,
                                    connect_args={"options": "-c synchronous_commit=off"})
        self._pipelined = Pipelined(engine, options="-c synchronous_commit=off")
        self._calls = 0
        self._ensure_shared = True

    def reserve(self, buckets: list[Bucket]) -> float:
        """Take the next slot of every bucket; returns the seconds to wait for the latest of them."""
        wait = 0.0
        with self.engine.begin() as conn:
            for key, interval in sorted(buckets):
                wait = max(wait, float(conn.execute(_RESERVE, {"key": key, "iv": interval}).scalar_one()))
        return wait

    def take_with(self, own: list[Bucket], shared: Bucket, mine: tuple[float, ...] = ()) -> Taken | None:
        """Take `own` buckets (a chat's) only if all are free now, plus the next `shared` slot.

        Returns the seconds to wait for the shared slot and the own buckets' new anchors, or None
        when an own bucket is busy (then nothing is taken). The own buckets are anchored at the
        shared slot, `slot + interval`, so two requests to one chat are spaced from when they really
        go out, whoever sends them. `mine` are anchors this caller set and never used (a slot it
        let pass): a bucket still at one of them counts as free for it.
        One round trip: ensure the rows, lock the chat's (in key order, so two senders never
        deadlock; the shared row is always taken last), then the conditional take, and commit.
        """
        own = sorted(own)
        # The shared row is hot (every sender updates it): inserting it again would queue behind
        # each update in flight, so it is ensured only at first and after a take found nothing.
        ensure = {k for k, _ in own} | ({shared[0]} if self._ensure_shared else set())
        params = {"all": sorted(ensure), "own": [k for k, _ in own],
                  "ivs": [iv for _, iv in own], "shared": shared[0], "iv": shared[1], "mine": list(mine)}

        def take(pg: Any) -> Taken | None:
            with pg.pipeline():
                pg.execute(_PG_ENSURE, params)
                pg.execute(_PG_LOCK, params)
                cur = pg.execute(_PG_TAKE, params)
                pg.commit()
            row = cur.fetchone()
            return None if row is None else Taken(float(row[0]), tuple(row[1] or ()))

        wait = self._pipelined.run(take)
        self._ensure_shared = wait is None  # a busy chat, or the shared row was pruned while idle
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
        delay = await in_db_thread(self.reserve, buckets)
        if delay > 0:
            await asyncio.sleep(delay)

    def dispose(self) -> None:
        self.engine.dispose()
        self._pipelined.dispose()
