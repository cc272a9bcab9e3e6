"""Measurements of the platform and of the telemetry kit: `airscope bench` and its subcommands, and
`airscope soak`. The click commands are in ``airscope.cli.bench``; these modules raise ``BenchError``."""

from __future__ import annotations

from airscope.errors import AirscopeError


class BenchError(AirscopeError):
    """A benchmark cannot run or gave no usable figures; the message says why and what to do."""
