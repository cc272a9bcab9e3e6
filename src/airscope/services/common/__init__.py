"""What every service shares: JSON error answers, configuration from the environment, activity reports.

Modules imported by name: ``datastores`` (the PostgreSQL pool and schema, 503s naming a failed
datastore), ``forwarding`` (a request passed on to another service), ``background`` (timed gauge
refreshes, stopping tasks), ``redis_client`` and ``storable``.
"""

from airscope.services.common.activity import ActivityReporter
from airscope.services.common.config import ConfigError
from airscope.services.common.errors import ServiceError, errors, install_error_handlers

__all__ = [
    "ActivityReporter",
    "ConfigError",
    "ServiceError",
    "errors",
    "install_error_handlers",
]
