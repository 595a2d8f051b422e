"""Alembic environment for both ways migrations run.

- In code: `bot.migrate.init_db(engine)` hands over an open connection in `config.attributes`,
  so `paperboy` upgrades SQLite and PostgreSQL alike at start-up.
- From the `alembic` command (`alembic history`, `alembic downgrade -1`, ...) with the
  `alembic.ini` at the project root: the database is `-x url=...` if given, else the one in
  paperboy's own configuration (`--config` file, `$PAPERBOY_CONFIG`, `./paperboy.toml`, or
  `PAPERBOY_DATABASE__URL`), so the command always works on the database the bot uses.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.sql.schema import SchemaItem

from bot.migrate import target_metadata


def include_object(obj: SchemaItem, name: str | None, type_: str, reflected: bool,
                   compare_to: SchemaItem | None) -> bool:
    """Leave out tables no model declares: the search index's (FTS5 shadow tables, search_docs)."""
    return not (type_ == "table" and reflected and compare_to is None)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTERs
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from bot.config import load_settings

    return load_settings().database.url


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    engine = create_engine(_database_url())
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()
