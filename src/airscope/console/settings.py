"""Where the console finds what it shows: the local Prometheus, Alertmanager, the receiver's
notifications, the log and span files, and the checkout's dashboards and runbooks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from airscope import checkout
from airscope.local import alert_receiver, api_key, observability, paths


@dataclass(frozen=True)
class ConsoleConfig:
    home: Path
    prometheus_url: str
    alertmanager_url: str
    notifications_file: Path
    log_dir: Path
    trace_dir: Path
    dashboards_dir: Path
    runbooks_dir: Path

    @classmethod
    def from_environment(cls) -> ConsoleConfig:
        """Local mode's: ``$AIRSCOPE_HOME`` and the ``AIRSCOPE_PORT_<NAME>`` variables, as ``make up`` set them."""
        at = observability.local_ports()
        root = checkout.root()
        return cls(
            home=paths.home(),
            prometheus_url=f"http://127.0.0.1:{at['prometheus']}",
            alertmanager_url=f"http://127.0.0.1:{at['alertmanager']}",
            notifications_file=alert_receiver.notifications_file(),
            log_dir=paths.log_dir(),
            trace_dir=paths.trace_dir(),
            dashboards_dir=root / "deploy" / "grafana" / "dashboards",
            runbooks_dir=root / "docs" / "runbooks",
        )

    def api_key(self) -> str:
        """The local API key, read when an action needs it (``make up`` writes it before the console starts)."""
        return api_key.api_key()
