"""Configuration from the environment (12-factor): one reader per type, errors that name the variable.

Services read everything in ``create_app()``, so a bad value stops the process at start-up with a
message that says which variable to fix, instead of failing the first request that needs it.
"""

from __future__ import annotations

import os

from airscope import catalog


class ConfigError(ValueError):
    """An environment variable has a value the service cannot use."""


def env_str(name: str, default: str | None = None) -> str:
    """The variable's value; without a default, an unset or empty variable is an error."""
    value = os.environ.get(name, "")
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is not set")
    return default


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def service_url(name: str) -> str:
    """Base URL of another catalog service: ``AIRSCOPE_URL_<NAME>`` (local mode and compose set it),
    else the service's catalog port on 127.0.0.1."""
    service = catalog.load().service(name)
    return env_str(f"AIRSCOPE_URL_{service.env_name}", f"http://127.0.0.1:{service.port}").rstrip("/")
