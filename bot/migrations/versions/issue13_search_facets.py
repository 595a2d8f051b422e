"""search index with facets (categories and months as index terms): drop the old layout

The search index of revision 8a484e505e1e has no `facets` column. This revision drops an index of
that layout (nothing is lost: it is derived from `papers`); `bot.migrate.init_db` then rebuilds it
in the new layout from the papers (`digest.search.ensure_search_index`). A fresh database already gets
the new layout from the first revision and is left alone.

Revision ID: issue13_search_facets
Revises: issue13_updated_at
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issue13_search_facets"
down_revision = "issue13_updated_at"
branch_labels = None
depends_on = None

_SQLITE_DROP = ("DROP TRIGGER IF EXISTS papers_fts_insert", "DROP TRIGGER IF EXISTS papers_fts_update",
                "DROP TRIGGER IF EXISTS papers_fts_delete", "DROP TABLE IF EXISTS papers_fts",
                "DROP TABLE IF EXISTS search_docs")
_PG_DROP = ("DROP TRIGGER IF EXISTS papers_search_sync ON papers", "DROP FUNCTION IF EXISTS paper_search_sync()",
            "DROP TABLE IF EXISTS paper_search")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        ddl = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'papers_fts'")).scalar()
        if ddl and "facets" not in ddl:
            for statement in _SQLITE_DROP:
                op.execute(statement)
    elif bind.dialect.name == "postgresql":
        table = bind.execute(sa.text("SELECT count(*) FROM pg_class WHERE relname = 'paper_search'")).scalar()
        facets = bind.execute(sa.text("SELECT count(*) FROM information_schema.columns "
                                      "WHERE table_name = 'paper_search' AND column_name = 'facets'")).scalar()
        if table and not facets:
            for statement in _PG_DROP:
                op.execute(statement)


def downgrade() -> None:
    pass  # the new layout serves the old code too (it only ignores the facets)
