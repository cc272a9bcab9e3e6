"""The initial schema: users, refresh tokens, login failures, activity events, workspaces, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, TIMESTAMP, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("display_name", sa.String(100)),
        _created_at(),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        _created_at(),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
    )
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        _created_at("failed_at"),
    )
    op.create_index("login_failures_email_failed_at", "login_failures", ["email", "failed_at"])
    op.create_table(
        "activity_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        _created_at("occurred_at"),
        sa.CheckConstraint("type IN ('login', 'chat', 'upload', 'saga')", name="activity_events_type"),
    )
    op.create_index(
        "activity_events_occurred_at",
        "activity_events",
        ["occurred_at"],
        postgresql_include=["type", "actor"],
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(128)),
        _created_at(),
        sa.Column("deleted_at", TIMESTAMP),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("response", postgresql.JSONB()),
        _created_at(),
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "workspaces",
        "activity_events",
        "login_failures",
        "refresh_tokens",
        "users",
    ):
        op.drop_table(table)
