"""What every service shares: its JSON error answers and its configuration from the environment."""

from airscope.services.common.config import ConfigError, env_float, env_int, env_str, service_url
from airscope.services.common.errors import ServiceError, install_error_handlers

__all__ = [
    "ConfigError",
    "ServiceError",
    "env_float",
    "env_int",
    "env_str",
    "install_error_handlers",
    "service_url",
]
