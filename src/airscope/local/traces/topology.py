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

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from airscope import catalog
from airscope.catalog import Catalog
from airscope.errors import AirscopeError
from airscope.local import ports
from airscope.local.traces.files import ORDER_SLACK_NS, Position, Span, span_files, spans_after

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


@dataclass(slots=True)
class Stats:
    """Calls (or requests) in a window: how many, how many failed, and their durations as a histogram
    of bins ``2**(1/8)`` wide (a quantile within 4.4 % of the duration, and never outside the fastest
    and slowest seen), so that ten-second buckets merge and a window holds no list of its durations."""

    count: int = 0
    errors: int = 0
    bins: dict[int, int] = field(default_factory=dict)  # _bin(duration) -> calls
    fastest_ns: int = 0
    slowest_ns: int = 0

    def add(self, duration_ns: int, failed: bool = False) -> None:
        if not self.count or duration_ns < self.fastest_ns:
            self.fastest_ns = duration_ns
        if not self.count or duration_ns > self.slowest_ns:
            self.slowest_ns = duration_ns
        self.count += 1
        self.errors += failed
        key = _bin(duration_ns)
        self.bins[key] = self.bins.get(key, 0) + 1

    def merge(self, other: Stats) -> None:
        if not other.count:
            return
        if not self.count or other.fastest_ns < self.fastest_ns:
            self.fastest_ns = other.fastest_ns
        if not self.count or other.slowest_ns > self.slowest_ns:
            self.slowest_ns = other.slowest_ns
        self.count += other.count
        self.errors += other.errors
        for key, calls in other.bins.items():
            self.bins[key] = self.bins.get(key, 0) + calls

    def rate(self, window_s: float) -> float:
        return self.count / window_s if window_s > 0 else 0.0

    @property
    def error_ratio(self) -> float:
        return self.errors / self.count if self.count else 0.0

    @property
    def p95_seconds(self) -> float | None:
        """The nearest-rank 95th percentile: the middle of the bin the rank falls in."""
        if not self.count:
            return None
        rank = max(1, math.ceil(0.95 * self.count))
        for key in sorted(self.bins):
            rank -= self.bins[key]
            if rank <= 0:
                middle = round(2 ** ((key + _BIN_OFFSET + 0.5) / _BINS_PER_DOUBLING))
                return min(max(middle, self.fastest_ns), self.slowest_ns) / 1e9
        return self.slowest_ns / 1e9  # unreachable: the bins hold count calls


_BINS_PER_DOUBLING = 8
# Bins count from 1 µs (shorter is one bin), so a bin's number up to 1000 s is one of the small ints
# Python shares: a bucket's histograms allocate no numbers.
_BIN_OFFSET = 10 * _BINS_PER_DOUBLING


def _bin(duration_ns: int) -> int:
    if duration_ns < 1024:
        return -1
    return math.floor(math.log2(duration_ns) * _BINS_PER_DOUBLING) - _BIN_OFFSET


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
    """The observed calls among ``spans`` (all of them read: every call settles) against the catalog."""
    folding = _Folding(cat, resolve or Resolver(cat), since_ns=0)
    for span in spans:
        folding.add(span)
    folding.settle(None)
    return folding.topology(None, None, window_s)


# How long a call waits for the span that answers it (in another instance's file, exported in batches
# every 5 s) before its callee is named from its attributes alone: Tempo's service-graph wait.
WAIT_NS = 10 * 10**9
# A span is kept as a possible child this long after it ended: its parent ends after it, and is
# written within the exporter's delay.
_CHILD_KEEP_NS = 6 * WAIT_NS
# Bucket widths by age: ten seconds for the last hour (a dashboard's default range, refreshed every
# few seconds), then five minutes for a day, then hours; none older than a week.
_TIERS = ((3600 * 10**9, 10 * 10**9), (24 * 3600 * 10**9, 300 * 10**9), (7 * 24 * 3600 * 10**9, 3600 * 10**9))
MAX_RETENTION_NS = _TIERS[-1][0]
_FINEST_NS = _TIERS[0][1]


@dataclass(slots=True)
class _Bucket:
    """What ended within [start, start + width): spans by service, and the calls and requests."""

    width_ns: int
    spans: dict[str, int] = field(default_factory=dict)
    nodes: dict[Target, Stats] = field(default_factory=dict)  # services' requests, others' incoming calls
    edges: dict[tuple[str, Target], Stats] = field(default_factory=dict)

    def merge(self, other: _Bucket) -> None:
        for service, spans in other.spans.items():
            self.spans[service] = self.spans.get(service, 0) + spans
        for mine, theirs in ((self.nodes, other.nodes), (self.edges, other.edges)):
            for key, stats in theirs.items():
                mine.setdefault(key, Stats()).merge(stats)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Call:
    """A client or producer span as a call waiting for its children: what counting it needs, not the
    span (its attributes are most of a span's memory, and an hour's calls wait at the first read)."""

    span_id: str
    service: str
    end_ns: int
    duration_ns: int
    failed: bool
    fallback: Target | None  # the callee its attributes name, for when no server span answers


@dataclass(slots=True)
class _Child:
    kind: int
    service: str
    failed: bool
    end_ns: int


class _Folding:
    """Spans folded into buckets as they come: a span counts for its service at once; a call (client or
    producer span) waits up to ``WAIT_NS`` for its children (the server span that answers it, or the
    client span inside a wrapper), then lands in the bucket of its end."""

    def __init__(self, cat: Catalog, resolve: Resolver, since_ns: int) -> None:
        self.cat = cat
        self.resolve = resolve
        self.since_ns = since_ns  # the buckets hold every span that ended since then
        self.buckets: dict[int, _Bucket] = {}  # start -> bucket
        self.calls: dict[str, _Call] = {}  # span id -> a call waiting for its children
        self.children: dict[str, list[_Child]] = {}  # parent span id -> its client and server children
        self.declared = declared_calls(cat)

    def bucket(self, end_ns: int) -> _Bucket:
        start = end_ns - end_ns % _FINEST_NS
        found = self.buckets.get(start)
        if found is None:
            found = self.buckets[start] = _Bucket(_FINEST_NS)
        return found

    def add(self, span: Span) -> None:
        if span.service not in self.resolve.services:
            # The users' browsers (the frontend's Faro spans, service frontend-browser) are no service
            # of the catalog's: their calls reach the map as the frontend's requests.
            return
        if span.kind in (SERVER, CLIENT) and span.parent_span_id:
            self.children.setdefault(span.parent_span_id, []).append(
                _Child(span.kind, span.service, span.status == "ERROR", span.end_ns)
            )
        if span.end_ns < self.since_ns:
            return
        bucket = self.bucket(span.end_ns)
        bucket.spans[span.service] = bucket.spans.get(span.service, 0) + 1
        if span.kind == SERVER:
            for pair in span.raw_attributes:  # a service's own numbers are its HTTP requests'
                if pair.get("key") in _HTTP_METHOD_KEYS:
                    stats = bucket.nodes.get(target := Target(span.service, "service"))
                    if stats is None:
                        stats = bucket.nodes[target] = Stats()
                    stats.add(span.duration_ns, span.status == "ERROR")
                    break
        elif span.kind in (CLIENT, PRODUCER):
            fallback = self.resolve(span, span.attributes())
            failed = span.status == "ERROR"
            self.calls[span.span_id] = _Call(
                span.span_id, span.service, span.end_ns, span.duration_ns, failed, fallback
            )

    def call(self, span: _Call) -> tuple[Target, bool] | None:
        """The callee of a call and whether it failed; None for a wrapper or a call to nowhere known."""
        below = self.children.get(span.span_id, ())
        if any(child.kind == CLIENT and child.service == span.service for child in below):
            return None  # a wrapper: the call inside it is counted
        answered = next((c for c in below if c.kind == SERVER and c.service != span.service), None)
        if answered is not None:
            # Failed when either side says so: a client instrumentation may not mark a 5xx, the server does.
            return Target(answered.service, "service"), answered.failed or span.failed
        return None if span.fallback is None else (span.fallback, span.failed)

    def count(self, span: _Call, bucket: _Bucket) -> None:
        found = self.call(span)
        if found is None:
            return
        target, failed = found
        if target.kind != "service":
            bucket.nodes.setdefault(target, Stats()).add(span.duration_ns, span.failed)
        # The caller's duration: what the call cost it.
        bucket.edges.setdefault((span.service, target), Stats()).add(span.duration_ns, failed)

    def settle(self, now_ns: int | None) -> None:
        """Counts the calls that waited long enough (all when ``now_ns`` is None), and forgets the
        children no call will ask for."""
        waiting: dict[str, _Call] = {}
        for span_id, span in self.calls.items():
            if now_ns is None or span.end_ns + WAIT_NS < now_ns:
                self.count(span, self.bucket(span.end_ns))
            else:
                waiting[span_id] = span
        # New dictionaries: a dictionary keeps its size when emptied, and the first read fills them.
        self.calls = waiting
        if now_ns is None:
            self.children = {}
            return
        # Children of one call end close together: the latest one read tells.
        self.children = {
            parent: children
            for parent, children in self.children.items()
            if parent in waiting or children[-1].end_ns + _CHILD_KEEP_NS >= now_ns
        }

    def topology(self, start_ns: int | None, end_ns: int | None, window_s: float) -> Topology:
        """The buckets that overlap [start_ns, end_ns] (all when None), with the calls still waiting named
        by what is known now."""
        total = _Bucket(0)
        for start, bucket in self.buckets.items():
            if (start_ns is None or start + bucket.width_ns > start_ns) and (
                end_ns is None or start <= end_ns
            ):
                total.merge(bucket)
        for span in self.calls.values():
            if (start_ns is None or span.end_ns >= start_ns) and (end_ns is None or span.end_ns <= end_ns):
                self.count(span, total)

        nodes: dict[str, Node] = {}
        edges: dict[tuple[str, str], Edge] = {}

        def node(target: Target) -> Node:
            if target.id not in nodes:
                nodes[target.id] = Node(target.id, target.kind)
            return nodes[target.id]

        for (caller, callee), kind in self.declared.items():
            node(Target(caller, "service"))
            node(Target(callee, kind))
            edges[caller, callee] = Edge(caller, callee, declared=True)
        for service, spans in total.spans.items():
            node(Target(service, "service")).spans += spans
        for target, stats in total.nodes.items():
            node(target).stats.merge(stats)
        for (caller, target), stats in total.edges.items():
            node(Target(caller, "service"))
            node(target)
            edge = edges.get((caller, target.id))
            if edge is None:
                edge = edges[caller, target.id] = Edge(caller, target.id, declared=False)
            edge.stats.merge(stats)
        return Topology(nodes, edges, window_s)

    def compact(self, now_ns: int, keep_ns: int) -> None:
        """Merges aged buckets into wider ones and drops those older than ``keep_ns``: memory stays
        bounded however long the console runs."""
        oldest = now_ns - keep_ns
        for start in sorted(self.buckets):
            bucket = self.buckets[start]
            if start + bucket.width_ns <= oldest:
                del self.buckets[start]
                continue
            ended = now_ns - (start + bucket.width_ns)
            width = next((width for age, width in _TIERS if ended <= age), _TIERS[-1][1])
            if width > bucket.width_ns:
                del self.buckets[start]
                wider = start - start % width
                self.buckets.setdefault(wider, _Bucket(width)).merge(bucket)
        self.since_ns = max(self.since_ns, oldest)


class ServiceMap(_Folding):
    """The calls of a span directory, kept up to date by reading only what was appended to its files
    since the last time (each file's position remembered): what the console refreshes every few seconds."""

    def __init__(self, trace_dir: Path, cat: Catalog, since_ns: int) -> None:
        super().__init__(cat, Resolver(cat), since_ns - since_ns % _FINEST_NS)
        self.trace_dir = trace_dir
        self.positions: dict[Path, Position] = {}
        self.keep_ns = 0  # the longest window asked for: what the buckets keep
        self.lock = threading.Lock()

    def refresh(self, now_ns: int) -> None:
        """Folds in the spans appended since the last refresh: a slice of every file in turn, so that
        the calls that ended well before every file's front are counted (and their spans let go) as
        the files are read, not after an hour of them is held."""
        found = set(span_files(self.trace_dir)) if self.trace_dir.is_dir() else set()
        reading, fronts = set(found), {path: self.since_ns for path in found}
        while reading:
            for path in sorted(reading):
                before = self.positions.get(path)
                try:
                    spans, self.positions[path] = spans_after(path, before, self.since_ns)
                except FileNotFoundError:
                    reading.discard(path)  # removed since it was listed
                    continue
                for span in spans:
                    self.add(span)
                    fronts[path] = max(fronts[path], span.end_ns)
                if before is not None and self.positions[path].offset == before.offset:
                    reading.discard(path)
            if reading:
                # A later line of a file may reach ORDER_SLACK_NS back; a call waits WAIT_NS past that.
                self.settle(min(fronts[path] for path in reading) - ORDER_SLACK_NS)
        for gone in set(self.positions) - found:
            del self.positions[gone]
        self.settle(now_ns)
        self.compact(now_ns, self.keep_ns)

    def observed(self, start_ns: int, end_ns: int, now_ns: int) -> Topology:
        self.keep_ns = min(max(self.keep_ns, now_ns - start_ns), MAX_RETENTION_NS)
        self.refresh(now_ns)
        return self.topology(start_ns, end_ns, (end_ns - start_ns) / 1e9)


_MAPS: dict[Path, ServiceMap] = {}  # the span directory's service map, kept between requests
_MAPS_HELD = 4  # directories (tests make many; the console reads one)
_MAPS_LOCK = threading.Lock()


def observed(trace_dir: Path, start_ns: int, end_ns: int, cat: Catalog | None = None) -> Topology:
    """The topology of the spans that ended within the window, from the span files under ``trace_dir``,
    against ``cat`` (default: the catalog every command reads; ``CatalogError`` when it is broken).

    The calls are folded into buckets kept in this process for the directory, so the next call reads
    only the spans written since; a window reaching further back than the buckets do reads its files
    again, once. The window's ends are as precise as its buckets are wide (10 s within the last hour)."""
    cat = cat or catalog.load()
    now_ns = time.time_ns()
    since_ns = max(start_ns, now_ns - MAX_RETENTION_NS)
    key = Path(trace_dir).absolute()
    with _MAPS_LOCK:
        found = _MAPS.pop(key, None)
        if found is None or found.cat is not cat or since_ns < found.since_ns:
            found = ServiceMap(key, cat, since_ns)
        _MAPS[key] = found  # the most recently used last
        while len(_MAPS) > _MAPS_HELD:
            del _MAPS[next(iter(_MAPS))]
    with found.lock:
        return found.observed(start_ns, end_ns, now_ns)


def forget() -> None:
    """Drops the service maps held (a benchmark's cold start)."""
    with _MAPS_LOCK:
        _MAPS.clear()


def follow(trace_dir: Path, every_s: float = 5.0, window_s: float = 3600.0) -> threading.Event:
    """Keeps the directory's service map folded up to date in a background thread, as Tempo's
    service-graph processor sees every span as it comes: a page opened after an hour of load then
    reads only the last seconds' spans, not the hour's. Set the returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            now = time.time_ns()
            # A broken catalog or an unreadable file: the page's own request says which.
            with contextlib.suppress(AirscopeError, OSError):
                observed(trace_dir, now - round(window_s * 1e9), now)
            stop.wait(every_s)

    threading.Thread(target=run, name="airscope-servicemap", daemon=True).start()
    return stop
