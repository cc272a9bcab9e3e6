"""Where the console finds what it shows: the local Prometheus, Alertmanager, the receiver's
notifications, the log and span files, and the checkout's dashboards and runbooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from airscope import checkout, promapi
from airscope.local import alert_receiver, api_key, observability, paths
from airscope.stack.settings import LOCAL


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
    # What Grafana's Prometheus data source calls timeInterval: the lower limit of $__interval and the
    # base of $__rate_interval. The local Prometheus scrapes every 5 s (production every 15 s).
    scrape_interval: str = LOCAL.scrape_interval
    # Tests put a fake Prometheus or Alertmanager here (an httpx.MockTransport); None is the network.
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)

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

    def prometheus(self, timeout: float = 10.0) -> promapi.Prometheus:
        """A client of the local Prometheus (close it, or use it in a ``with``)."""
        return promapi.Prometheus(self.prometheus_url, timeout=timeout, transport=self.transport)

    def alertmanager(self, timeout: float = promapi.DEFAULT_TIMEOUT) -> promapi.Alertmanager:
        return promapi.Alertmanager(self.alertmanager_url, timeout=timeout, transport=self.transport)

    def api_key(self) -> str:
        """The local API key, read when an action needs it (``make up`` writes it before the console starts)."""
        return api_key.api_key()
