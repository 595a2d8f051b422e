"""Schema migrations with Alembic, run in code: `init_db(engine)` brings any database to head.

The migration scripts live in `bot/migrations/versions` (this layer knows every table: the paper
side's in `digest/`, the bot's own here). `paperboy` calls `init_db` at start-up, so upgrading the
package and restarting is all a self-hoster does. New migration: `python -m bot.migrate revision "message"`
autogenerates one against a scratch SQLite database.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData

MIGRATIONS = Path(__file__).with_name("migrations")

# Every module that defines tables on digest.db.Base; the migration environment imports them all.
TABLE_MODULES = (
    "digest.schema",
    "digest.fulltext_cache",
    "bot.schema",
    "bot.search_memory",
    "bot.assistant.schema",
    "digest.embeddings",
)


def target_metadata() -> MetaData:
    from digest.db import Base

    for name in TABLE_MODULES:
        importlib.import_module(name)
    return Base.metadata


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def init_db(engine: Engine) -> None:
    """Create or upgrade the schema at `engine` to the newest revision."""
    from digest.search import ensure_search_index

    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")
    ensure_search_index(engine)  # a migration may have dropped an older layout, a bulk load its triggers


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (processes that do not migrate wait for it)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        script = ScriptDirectory.from_config(_config(connection))
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())


def wait_for_schema(engine: Engine, *, poll_s: float = 2.0) -> None:
    """Block until another process (the scheduler) has migrated the database to the newest revision."""
    import logging
    import time

    logged = False
    while True:
        try:
            if is_current(engine):
                return
        except Exception as exc:  # the database is not up yet, or has no tables yet
            if not logged:
                logging.getLogger(__name__).info("waiting for the database: %s", type(exc).__name__)
                logged = True
        else:
            if not logged:
                logging.getLogger(__name__).info("waiting for the scheduler to migrate the database")
                logged = True
        time.sleep(poll_s)


def _revision(message: str) -> None:
    from digest.db import make_engine

    scratch = Path("/tmp/paperboy-revision.sqlite3")
    scratch.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{scratch}")
    with engine.begin() as connection:
        config = _config(connection)
        command.upgrade(config, "head")
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "revision":
    _revision(sys.argv[2])
