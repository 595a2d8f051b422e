"""index papers.updated_at (the Related index catches up from it)

Revision ID: issue13_updated_at
Revises: issue14_style
"""

from __future__ import annotations

from alembic import op

revision = "issue13_updated_at"
down_revision = "issue14_style"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_updated_at", "papers", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_papers_updated_at", table_name="papers")
