"""Every setting of platform-services, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field, field_validator
from sqlalchemy.engine import make_url

from airscope.services.common.config import ConfigError, EnvSettings


def sqlalchemy_url(database_url: str) -> str:
    """DATABASE_URL (libpq form, ``postgresql://``) with SQLAlchemy's asyncpg driver named."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


class DatabaseSettings(EnvSettings):
    """Where platform-services' data is: all its schema migrations need."""

    database_url: str = Field(validation_alias="DATABASE_URL")
    """Its PostgreSQL database, as a plain `postgresql://` URL (local mode and compose give it)."""

    @field_validator("database_url")
    @classmethod
    def _postgresql(cls, value: str) -> str:
        sqlalchemy_url(value)
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """SQLAlchemy's form of ``database_url``."""
        return sqlalchemy_url(self.database_url)


class Config(DatabaseSettings):
    """platform-services' settings."""

    jwt_secret: str = Field(repr=False, validation_alias="AIRSCOPE_JWT_SECRET")
    """Signs the login tokens it issues (the gateway checks them)."""
    access_token_ttl_seconds: int = Field(900, ge=1, validation_alias="PLATFORM_ACCESS_TOKEN_TTL_SECONDS")
    """Lifetime of an access token."""
    refresh_token_ttl_seconds: int = Field(
        30 * 86400, ge=1, validation_alias="PLATFORM_REFRESH_TOKEN_TTL_SECONDS"
    )
    """Lifetime of a refresh token."""
    db_pool_size: int = Field(10, ge=1, validation_alias="PLATFORM_DB_POOL_SIZE")
    """PostgreSQL connections kept open."""
    db_max_overflow: int = Field(5, ge=0, validation_alias="PLATFORM_DB_MAX_OVERFLOW")
    """Connections opened beyond the pool when busy."""
    login_max_failures: int = Field(5, ge=1, validation_alias="PLATFORM_LOGIN_MAX_FAILURES")
    """Failed logins of one account in the window before it is refused with 429."""
    login_max_failures_per_client: int = Field(
        100, ge=1, validation_alias="PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT"
    )
    """Failed logins from one client address in the window, whatever the account (credential stuffing). Far
    above what one office behind a NAT gets wrong in a window; a load generator posing as many users from
    one address needs it raised (local mode sets 100000)."""
    login_window_seconds: int = Field(900, ge=1, validation_alias="PLATFORM_LOGIN_WINDOW_SECONDS")
    """The window failed logins count in."""
    active_users_refresh_seconds: float = Field(
        15.0, ge=0.1, validation_alias="PLATFORM_ACTIVE_USERS_REFRESH_SECONDS"
    )
    """How often the active-users gauge is recounted."""
