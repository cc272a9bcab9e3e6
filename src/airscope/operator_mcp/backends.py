"""What the tools read: the local platform by default (its Prometheus, Alertmanager, log and span
files), production's Prometheus or Mimir, Alertmanager, Loki and Tempo when their URLs are given
(flags of `airscope mcp`, else ``AIRSCOPE_PROMETHEUS_URL`` and the like: local.settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from airscope.errors import AirscopeError
from airscope.local import observability, paths
from airscope.local.settings import OperatorSettings
from airscope.operator_mcp import limits, runbooks
from airscope.operator_mcp.loki import LokiLogs
from airscope.operator_mcp.sources import LocalLogs, LocalTraces, LogSource, TraceSource
from airscope.operator_mcp.tempo import TempoTraces
from airscope.promapi import TENANT_HEADER, Alertmanager, Prometheus


@dataclass(frozen=True)
class Backends:
    prometheus_url: str
    alertmanager_url: str
    logs: LogSource | None  # None: production without Loki
    traces: TraceSource | None  # None: production without Tempo
    runbooks: runbooks.Runbooks
    local: bool  # the local platform: `airscope status`'s view of each instance is there too
    tenant: str | None = None
    # Tests put fake backends here (an httpx.MockTransport); None is the network.
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)

    @classmethod
    def select(
        cls,
        *,
        prometheus: str | None = None,
        alertmanager: str | None = None,
        loki: str | None = None,
        tempo: str | None = None,
        tenant: str | None = None,
    ) -> Backends:
        """The backends these URLs name (each unset one from the environment); with none at all, the
        local platform's. Given any, the rest is production's too: logs without Loki (traces without
        Tempo) are not read from local files that belong to another platform."""
        env = OperatorSettings.from_env()
        prometheus = _url(prometheus or env.prometheus_url)
        alertmanager = _url(alertmanager or env.alertmanager_url)
        loki = _url(loki or env.loki_url)
        tempo = _url(tempo or env.tempo_url)
        tenant = (tenant or env.tenant or "").strip() or None
        book = runbooks.Runbooks(runbooks.default_dir())
        if not any((prometheus, alertmanager, loki, tempo)):
            at = observability.local_ports()
            return cls(
                f"http://127.0.0.1:{at['prometheus']}",
                f"http://127.0.0.1:{at['alertmanager']}",
                LocalLogs(paths.log_dir()),
                LocalTraces(paths.trace_dir()),
                book,
                local=True,
            )
        if not prometheus or not alertmanager:
            raise AirscopeError(
                "production mode needs both --prometheus URL and --alertmanager-url URL "
                "(or AIRSCOPE_PROMETHEUS_URL and AIRSCOPE_ALERTMANAGER_URL); give neither for the local platform"
            )
        return cls(
            prometheus,
            alertmanager,
            LokiLogs(loki, tenant=tenant) if loki else None,
            TempoTraces(tempo, tenant=tenant) if tempo else None,
            book,
            local=False,
            tenant=tenant,
        )

    def prometheus(self) -> Prometheus:
        headers = {TENANT_HEADER: self.tenant} if self.tenant else None
        return Prometheus(
            self.prometheus_url,
            timeout=limits.CALL_TIMEOUT_SECONDS,
            transport=self.transport,
            headers=headers,
        )

    def alertmanager(self) -> Alertmanager:
        return Alertmanager(
            self.alertmanager_url, timeout=limits.CALL_TIMEOUT_SECONDS, transport=self.transport
        )

    def log_source(self) -> LogSource:
        if self.logs is None:
            raise AirscopeError("no log source: give `airscope mcp --loki URL` (or AIRSCOPE_LOKI_URL)")
        return self.logs

    def trace_source(self) -> TraceSource:
        if self.traces is None:
            raise AirscopeError("no trace source: give `airscope mcp --tempo URL` (or AIRSCOPE_TEMPO_URL)")
        return self.traces


def _url(value: str | None) -> str | None:
    return (value or "").strip().rstrip("/") or None
