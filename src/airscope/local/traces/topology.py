"""The platform's calls as the spans saw them, beside the calls the catalog declares: the console's
service map and ``airscope check --topology``.

A call is a client span (or a producer span) that is not a wrapper: a client span with a client
child in its own service (the MCP client's ``MCP send tools/call``, the LLM client's ``chat
gpt-4o-mini``) is left out, its inner HTTP call is counted. The callee is the service of the server
span under it when one was written (so scaled instances and moved ports need no configuration), else
what the span's attributes name: ``db.system`` a store (``postgres``, ``redis``), else the URL's or
``server.address``'s host and port: a catalog service by its host name (production) or its port (local
mode, moved by ``AIRSCOPE_PORT_<NAME>``), an outside SaaS by its URL variable or its stand-in's port,
else a node named by host and port.

Health probes (a path of ``/health`` or under it) are no calls: the gateway's status page polls every
service, the request path depends on none of them, and the catalog declares none.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from airscope import catalog
from airscope.catalog import Catalog
from airscope.local import ports
from airscope.local.traces.files import Span, spans_between

SERVER, CLIENT, PRODUCER = 2, 3, 4
# db.system (and messaging.system) values and the catalog's infrastructure kinds they are.
_STORES = {"postgresql": "postgres", "redis": "redis"}
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
_URL_KEYS = ("url.full", "http.url")
_HOST_KEYS = (("server.address", "server.port"), ("net.peer.name", "net.peer.port"))
_HTTP_METHOD_KEYS = ("http.request.method", "http.method")


@dataclass(frozen=True)
class Target:
    id: str
    kind: str  # service, store or saas


@dataclass
class Stats:
    """Calls (or requests) in a window: how many, how many failed, and their durations."""

    durations_ns: list[int] = field(default_factory=list)
    errors: int = 0

    def add(self, span: Span, failed: bool = False) -> None:
        self.durations_ns.append(span.duration_ns)
        self.errors += failed or span.status == "ERROR"

    @property
    def count(self) -> int:
        return len(self.durations_ns)

    def rate(self, window_s: float) -> float:
        return self.count / window_s if window_s > 0 else 0.0

    @property
    def error_ratio(self) -> float:
        return self.errors / self.count if self.count else 0.0

    @property
    def p95_seconds(self) -> float | None:
        """The nearest-rank 95th percentile (no interpolation: a duration some call took)."""
        if not self.durations_ns:
            return None
        ordered = sorted(self.durations_ns)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] / 1e9


@dataclass
class Edge:
    source: str
    target: str
    declared: bool
    stats: Stats = field(default_factory=Stats)

    @property
    def seen(self) -> bool:
        return self.stats.count > 0


@dataclass
class Node:
    id: str
    kind: str  # service, store or saas
    stats: Stats = field(default_factory=Stats)  # a service's HTTP requests, else its incoming calls
    spans: int = 0  # the spans it wrote in the window (services only)


@dataclass
class Topology:
    nodes: dict[str, Node]
    edges: dict[tuple[str, str], Edge]
    window_s: float

    @property
    def undeclared(self) -> list[Edge]:
        """Calls seen that the catalog does not declare."""
        return [edge for edge in self.edges.values() if edge.seen and not edge.declared]

    @property
    def unseen(self) -> list[Edge]:
        """Declared calls never seen, of callers that wrote spans in the window (they ran, and did not call)."""
        return [
            edge
            for edge in self.edges.values()
            if edge.declared and not edge.seen and self.nodes[edge.source].spans
        ]

    @property
    def idle(self) -> list[Edge]:
        """Declared calls never seen, of callers that wrote no span at all: nothing exercised them."""
        return [
            edge
            for edge in self.edges.values()
            if edge.declared and not edge.seen and not self.nodes[edge.source].spans
        ]

    def frame(self) -> dict:
        """The console's "graph" frame."""

        def numbers(stats: Stats) -> dict:
            return {
                "rate": round(stats.rate(self.window_s), 6),
                "errorRatio": round(stats.error_ratio, 6),
                "p95Seconds": stats.p95_seconds,
            }

        return {
            "kind": "graph",
            "nodes": [
                {"id": node.id, "title": node.id, "kind": node.kind, **numbers(node.stats)}
                for node in sorted(self.nodes.values(), key=lambda n: (n.kind != "service", n.id))
            ],
            "edges": [
                {
                    "source": edge.source,
                    "target": edge.target,
                    **numbers(edge.stats),
                    "declared": edge.declared,
                    "seen": edge.seen,
                }
                for _, edge in sorted(self.edges.items())
            ],
        }


def declared_calls(cat: Catalog) -> dict[tuple[str, str], str]:
    """(caller, callee) -> the callee's kind, for every service whose package is in the tree."""
    declared: dict[tuple[str, str], str] = {}
    for service in cat.services.values():
        if not service.exists():
            continue
        for callee in service.calls:
            declared[service.name, callee] = "service"
        for store in service.requires:
            declared[service.name, store] = "store"
        for saas in service.external:
            declared[service.name, saas] = "saas"
    return declared


class Resolver:
    """Names the callee of a call that no server span answers, from the span's attributes."""

    def __init__(self, cat: Catalog, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.services = set(cat.services)
        self.by_port: dict[int, Target] = {}
        self.by_address: dict[tuple[str, int | None], Target] = {}
        for service in cat.services.values():
            self.by_port[_port(environ, service.name, service.port)] = Target(service.name, "service")
        for name, infra in cat.infrastructure.items():
            self.by_port[_port(environ, name, infra.port)] = Target(name, "store")
        for name, saas in cat.external.items():
            self.by_port[_port(environ, f"standin-{name}", saas.standin.port)] = Target(name, "saas")
            if environ.get(saas.url_env):
                url = urlsplit(environ[saas.url_env])
                self.by_address[(url.hostname or "", url.port)] = Target(name, "saas")
                self.by_address[(url.hostname or "", None)] = Target(name, "saas")

    def __call__(self, span: Span, attributes: dict[str, object]) -> Target | None:
        system = attributes.get("db.system") or attributes.get("messaging.system")
        if isinstance(system, str):
            return Target(_STORES.get(system, system), "store")
        host, port, path = _address(attributes)
        if path is not None and (path == "/health" or path.startswith("/health/")):
            return None
        if not host:
            return None
        for key in ((host, port), (host, None)):
            if key in self.by_address:
                return self.by_address[key]
        if host in self.services:
            return Target(host, "service")
        if host in _LOCAL_HOSTS and port in self.by_port:
            return self.by_port[port]
        return Target(f"{host}:{port}" if port else host, "saas")


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(ports.env_var(name), "").strip()
    return int(raw) if raw.isdigit() else default


def _address(attributes: dict[str, object]) -> tuple[str | None, int | None, str | None]:
    """(host, port, path) of a client span: its URL, else server.address or net.peer.name."""
    for key in _URL_KEYS:
        if isinstance(attributes.get(key), str):
            url = urlsplit(str(attributes[key]))
            default = {"http": 80, "https": 443}.get(url.scheme)
            try:
                port = url.port or default
            except ValueError:
                port = default
            return url.hostname, port, url.path or "/"
    for host_key, port_key in _HOST_KEYS:
        if attributes.get(host_key):
            port = attributes.get(port_key)
            return (
                str(attributes[host_key]),
                int(port) if isinstance(port, int | str) and str(port).isdigit() else None,
                None,
            )
    return None, None, None


def build(spans: Iterable[Span], cat: Catalog, window_s: float, resolve: Resolver | None = None) -> Topology:
    """The observed calls among ``spans`` against the catalog's declared ones."""
    resolve = resolve or Resolver(cat)
    spans = list(spans)
    children: dict[str, list[Span]] = {}
    for span in spans:
        if span.parent_span_id:
            children.setdefault(span.parent_span_id, []).append(span)

    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str], Edge] = {}

    def node(target: Target) -> Node:
        if target.id not in nodes:
            nodes[target.id] = Node(target.id, target.kind)
        return nodes[target.id]

    for (caller, callee), kind in declared_calls(cat).items():
        node(Target(caller, "service"))
        node(Target(callee, kind))
        edges[caller, callee] = Edge(caller, callee, declared=True)

    for span in spans:
        caller = node(Target(span.service, "service"))
        caller.spans += 1
        attributes = None
        if span.kind == SERVER:
            attributes = span.attributes()
            if any(key in attributes for key in _HTTP_METHOD_KEYS):
                caller.stats.add(span)
        if span.kind not in (CLIENT, PRODUCER):
            continue
        below = children.get(span.span_id, ())
        if any(child.kind == CLIENT and child.service == span.service for child in below):
            continue  # a wrapper: the call inside it is counted
        answered = next((c for c in below if c.kind == SERVER and c.service != span.service), None)
        if answered is not None:
            target = Target(answered.service, "service")
        else:
            target = resolve(span, attributes or span.attributes())
            if target is None:
                continue
        callee = node(target)
        if target.kind != "service":
            callee.stats.add(span)
        edge = edges.get((span.service, target.id))
        if edge is None:
            edge = edges[span.service, target.id] = Edge(span.service, target.id, declared=False)
        # The caller's duration (what the call cost it); failed when either side says so: a client
        # instrumentation may not mark a 5xx, the server's span does.
        edge.stats.add(span, failed=answered is not None and answered.status == "ERROR")
    return Topology(nodes, edges, window_s)


def observed(trace_dir: Path, start_ns: int, end_ns: int, cat: Catalog | None = None) -> Topology:
    """The topology of the spans that ended within the window, from the span files under ``trace_dir``,
    against ``cat`` (default: the catalog every command reads; ``CatalogError`` when it is broken)."""
    cat = cat or catalog.load()
    return build(spans_between(trace_dir, start_ns, end_ns), cat, (end_ns - start_ns) / 1e9)
