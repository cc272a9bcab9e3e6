"""Every setting of platform-services, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url

from airscope.services.common import ConfigError, env_float, env_int, env_str


def sqlalchemy_url(database_url: str) -> str:
    """DATABASE_URL (libpq form, ``postgresql://``) with SQLAlchemy's asyncpg driver named."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Config:
    # The plain postgresql:// URL, as local mode and compose give it, and SQLAlchemy's form of it.
    database_url: str
    sqlalchemy_url: str
    jwt_secret: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    db_pool_size: int
    db_max_overflow: int
    login_max_failures: int
    login_max_failures_per_client: int
    login_window_seconds: int
    active_users_refresh_seconds: float

    @classmethod
    def from_env(cls) -> Config:
        database_url = env_str("DATABASE_URL")
        return cls(
            database_url=database_url,
            sqlalchemy_url=sqlalchemy_url(database_url),
            jwt_secret=env_str("AIRSCOPE_JWT_SECRET"),
            access_token_ttl_seconds=env_int("PLATFORM_ACCESS_TOKEN_TTL_SECONDS", 900, minimum=1),
            refresh_token_ttl_seconds=env_int("PLATFORM_REFRESH_TOKEN_TTL_SECONDS", 30 * 86400, minimum=1),
            db_pool_size=env_int("PLATFORM_DB_POOL_SIZE", 10, minimum=1),
            db_max_overflow=env_int("PLATFORM_DB_MAX_OVERFLOW", 5, minimum=0),
            login_max_failures=env_int("PLATFORM_LOGIN_MAX_FAILURES", 5, minimum=1),
            # Many accounts tried from one address (credential stuffing). Far above what one
            # office behind a NAT gets wrong in a window; a load generator posing as many users
            # from one address needs it raised.
            login_max_failures_per_client=env_int("PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT", 100, minimum=1),
            login_window_seconds=env_int("PLATFORM_LOGIN_WINDOW_SECONDS", 900, minimum=1),
            active_users_refresh_seconds=env_float(
                "PLATFORM_ACTIVE_USERS_REFRESH_SECONDS", 15.0, minimum=0.1
            ),
        )
