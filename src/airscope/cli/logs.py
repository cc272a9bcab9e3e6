"""`airscope logs` (its click code moves here from airscope.local.logs)."""

from airscope.local.logs import logs_command  # noqa: F401
