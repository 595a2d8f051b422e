"""`Pipelined`: a few PostgreSQL statements in one network round trip, for the sender's hot path.

A send holds the outbox's one-unrecorded-send turn (see `bot.outbox`) from its flood-limit slot until
its row is marked sent, so every round trip there slows the whole sender. Through a plain
SQLAlchemy session, marking a row sent costs a pool ping, BEGIN, the UPDATE and COMMIT, four trips;
here the statements and the COMMIT go out together in a psycopg pipeline on a connection of a small
pool of its own (no ping: a connection the server dropped is replaced once, on failure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, exc

__all__ = ["Pipelined"]

T = TypeVar("T")


class Pipelined:
    """Runs work on a raw psycopg connection of its own pool; `options` are server settings for it."""

    def __init__(self, engine: Engine, *, options: str = "", pool_size: int = 4) -> None:
        connect_args = {"options": options} if options else {}
        self.engine = create_engine(engine.url, pool_size=pool_size, max_overflow=8, connect_args=connect_args)

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(psycopg_connection)`: it sends its statements in `with pg.pipeline():` and commits there."""
        for attempt in (1, 2):
            raw = self.engine.raw_connection()
            try:
                result = work(raw.driver_connection)
            except Exception as error:
                pg = raw.driver_connection
                if pg is not None and not pg.closed:  # a statement failed: the connection is fine
                    pg.rollback()
                    raw.close()
                    raise
                raw.invalidate()  # the connection is gone (a server restart): a fresh one, once
                if attempt == 2:
                    raise exc.OperationalError("pipelined statements", {}, error) from error
                continue
            raw.close()
            return result
        raise AssertionError("unreachable")

    def execute(self, sql: str, params: dict[str, Any]) -> int:
        """One statement and its COMMIT in one round trip; returns the rows it changed."""

        def work(pg: Any) -> int:
            with pg.pipeline():
                cur = pg.execute(sql, params)
                pg.commit()
            return int(cur.rowcount)

        return self.run(work)

    def dispose(self) -> None:
        self.engine.dispose()
