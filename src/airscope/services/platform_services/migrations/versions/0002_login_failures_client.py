"""Failed logins remember the client address too, for the per-client limit (credential stuffing).

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the rows written before this revision have no client (they leave the window soon).
    op.add_column("login_failures", sa.Column("client", sa.String(64)))
    op.create_index("login_failures_client_failed_at", "login_failures", ["client", "failed_at"])


def downgrade() -> None:
    op.drop_index("login_failures_client_failed_at", "login_failures")
    op.drop_column("login_failures", "client")
