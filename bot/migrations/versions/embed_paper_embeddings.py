"""paper_embeddings: optional provider embeddings of papers (llm.embedding_model), float16, one row a paper

Revision ID: embed_paper_embeddings
Revises: scale_pg_bulk_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "embed_paper_embeddings"
down_revision = "scale_pg_bulk_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column("paper_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.String(length=16), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("embedded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("paper_id", name="pk_paper_embeddings"),
    )


def downgrade() -> None:
    op.drop_table("paper_embeddings")
