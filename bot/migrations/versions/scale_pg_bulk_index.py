"""PostgreSQL search trigger: a switch that lets a bulk import index its rows itself

The trigger function `paper_search_sync` returns at once when the transaction has set
`paperboy.bulk_index` to `on`; `paperboy import` sets it for each chunk's transaction and indexes the
chunk with one set-based insert in the same transaction (digest/import_writer.py). Every other
write is indexed by the trigger as before. SQLite is left alone.

Revision ID: scale_pg_bulk_index
Revises: issue12_ops
"""

from __future__ import annotations

from alembic import op

revision = "scale_pg_bulk_index"
down_revision = "issue12_ops"
branch_labels = None
depends_on = None

_FUNCTION = """CREATE OR REPLACE FUNCTION paper_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('paperboy.bulk_index', true) = 'on' THEN
            RETURN NULL;  -- a bulk import indexes its chunk itself, in the same transaction
        END IF;
        INSERT INTO paper_search(paper_id, document, title_doc, facets)
        VALUES (NEW.id, paper_search_document(NEW.title, NEW.abstract, NEW.authors),
                to_tsvector('english', coalesce(NEW.title, '')), paper_search_facets(NEW.categories, NEW.published))
        ON CONFLICT (paper_id) DO UPDATE SET document = EXCLUDED.document, title_doc = EXCLUDED.title_doc,
            facets = EXCLUDED.facets;
        RETURN NULL;
    END $$"""

_OLD_FUNCTION = """CREATE OR REPLACE FUNCTION paper_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO paper_search(paper_id, document, title_doc, facets)
        VALUES (NEW.id, paper_search_document(NEW.title, NEW.abstract, NEW.authors),
                to_tsvector('english', coalesce(NEW.title, '')), paper_search_facets(NEW.categories, NEW.published))
        ON CONFLICT (paper_id) DO UPDATE SET document = EXCLUDED.document, title_doc = EXCLUDED.title_doc,
            facets = EXCLUDED.facets;
        RETURN NULL;
    END $$"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_OLD_FUNCTION)
