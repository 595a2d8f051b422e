"""Alembic environment: run migrations on the connection `bot.migrate` hands over.

paperboy does not use alembic.ini; `bot.migrate.init_db(engine)` builds the config in code, so
the same migrations run from `paperboy` on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from alembic import context

from bot.migrate import target_metadata



def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Leave out tables no model declares: the search index's (FTS5 shadow tables, search_docs)."""
    return not (type_ == "table" and reflected and compare_to is None)


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTERs
    compare_type=True,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
