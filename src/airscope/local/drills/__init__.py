"""Fault drills on the running local platform: each proves that an alert reaches a human in time
and resolves after healing (``airscope drill``; docs/alerting.md)."""
