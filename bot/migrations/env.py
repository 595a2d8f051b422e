"""Alembic environment: run migrations on the connection `bot.migrate` hands over.

paperboy does not use alembic.ini; `bot.migrate.init_db(engine)` builds the config in code, so
the same migrations run from `paperboy` on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from alembic import context

from bot.migrate import target_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTERs
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
