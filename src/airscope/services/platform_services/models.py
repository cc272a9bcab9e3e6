"""The tables of platform-services as SQLAlchemy typed ORM models (the schema itself is the migrations')."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored lower-cased, so the unique index makes addresses unique whatever their case.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # sha256 of the token, hex: the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Every token rotated from one login shares its family: a reused revoked token revokes them all.
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginFailure(Base):
    """A failed password login, kept for the per-account and per-client limits' window."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("login_failures_email_failed_at", "email", "failed_at"),
        Index("login_failures_client_failed_at", "client", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    # The caller's address as the api-gateway saw it (an IPv6 caller by its /64); see auth.client_key.
    client: Mapped[str | None] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ActivityEvent(Base):
    __tablename__ = "activity_events"
    # Both the analytics and the active-users queries scan a time range and read only these
    # columns: with them included the scan is index-only.
    __table_args__ = (
        Index("activity_events_occurred_at", "occurred_at", postgresql_include=["type", "actor"]),
        CheckConstraint("type IN ('login', 'chat', 'upload', 'saga')", name="activity_events_type"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    # The caller's identity as reported (``user:<id>``, ``key:<digest>``); "user" is reserved in SQL.
    actor: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    deleted_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """The first answer to a request that carried an Idempotency-Key, replayed for its repeats."""

    __tablename__ = "idempotency_keys"

    # The route the key was used on ("POST /workspaces"): one key may not mean two requests.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # sha256 of the request body: the same key with another body is refused, not replayed.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
