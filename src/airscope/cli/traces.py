"""`airscope trace` and `airscope traces`."""

from airscope.local.traces import trace_command, traces_command  # noqa: F401
