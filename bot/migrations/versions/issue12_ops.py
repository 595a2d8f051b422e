"""operations: outbox claims with a sender id, process leases, shared flood buckets, subscription versions, seen webhook updates

Revision ID: issue12_ops
Revises: issue13_search_facets
Create Date: 2026-12-03 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issue12_ops"
down_revision = "issue13_search_facets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Which sender claimed an outbox row; its heartbeat keeps the claim (next_attempt_at) fresh.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=True))
        batch_op.create_index("ix_outbox_chat_id_id", ["chat_id", "id"], unique=False)
    # A row version, so two processes changing one chat's subscription never lose a write.
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    # Named leases between processes (the one scheduler).
    op.create_table(
        "process_leases",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_process_leases")),
    )
    # Flood limits shared by every sender (PostgreSQL): the next free moment of each bucket.
    op.create_table(
        "flood_buckets",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_flood_buckets")),
    )
    # Webhook updates already taken by some bot process (several behind a load balancer).
    op.create_table(
        "seen_updates",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_seen_updates")),
    )
    # The last errors, for `paperboy status`.
    op.create_table(
        "recent_errors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recent_errors")),
    )


def downgrade() -> None:
    op.drop_table("recent_errors")
    op.drop_table("seen_updates")
    op.drop_table("flood_buckets")
    op.drop_table("process_leases")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat_id_id")
        batch_op.drop_column("claimed_by")
