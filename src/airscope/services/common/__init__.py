"""What every service shares: JSON error answers, configuration from the environment, activity reports."""

from airscope.services.common.activity import ActivityReporter
from airscope.services.common.config import ConfigError, env_float, env_int, env_str, service_url
from airscope.services.common.errors import ServiceError, errors, install_error_handlers

__all__ = [
    "ActivityReporter",
    "ConfigError",
    "ServiceError",
    "env_float",
    "env_int",
    "env_str",
    "errors",
    "install_error_handlers",
    "service_url",
]
