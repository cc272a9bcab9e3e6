"""The `airscope` command. Each subcommand is a thin shell over the module that does the work; this
package is the only one that imports click (import-linter holds it to that)."""

from __future__ import annotations

import click

from airscope.cli._lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "alerts": "airscope.cli.platform:alerts",
        "backup": "airscope.cli.backup:backup",
        "bench": "airscope.cli.bench:bench",
        "check": "airscope.cli.stack:check",
        "console": "airscope.cli.console:console",
        "down": "airscope.cli.platform:down",
        "drill": "airscope.cli.drills:drill_command",
        "fuzz": "airscope.cli.fuzz:fuzz_command",
        "gen": "airscope.cli.stack:gen",
        "jobs": "airscope.cli.admin:jobs",
        "load": "airscope.cli.load:load_command",
        "logs": "airscope.cli.logs:logs_command",
        "mcp": "airscope.cli.mcp:mcp_command",
        "migrate": "airscope.cli.backup:migrate",
        "profile": "airscope.cli.profile:profile_command",
        "restore": "airscope.cli.backup:restore",
        "sagas": "airscope.cli.admin:sagas",
        "scale": "airscope.cli.platform:scale",
        "silence": "airscope.cli.silence:silence",
        "slo": "airscope.cli.slo:slo",
        "soak": "airscope.cli.bench:soak_command",
        "start": "airscope.cli.platform:start",
        "status": "airscope.cli.platform:status",
        "stop": "airscope.cli.platform:stop",
        "thresholds": "airscope.cli.thresholds:thresholds_command",
        "train": "airscope.cli.drills:train_command",
        "trace": "airscope.cli.traces:trace_command",
        "traces": "airscope.cli.traces:traces_command",
        "up": "airscope.cli.platform:up",
        "users": "airscope.cli.admin:users",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="airscope")
def main() -> None:
    """Run and watch the PyAirtable platform locally."""
