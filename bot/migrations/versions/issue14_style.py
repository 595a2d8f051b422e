"""subscriptions.style: how a chat's digest is laid out (auto | compact | cards)

Revision ID: issue14_style
Revises: 8a484e505e1e
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issue14_style"
down_revision = "8a484e505e1e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("style", sa.String(length=16), nullable=False, server_default="auto"))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("style")
