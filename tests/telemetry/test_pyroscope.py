"""The kit's profiling agent: off without its URL, pushes profiles linked to root spans with it, and
never holds up a request when Pyroscope is away.

The agent is native and starts once a process, so every test that starts it runs in a subprocess.
"""

from __future__ import annotations

import gzip
import http.server
import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from airscope.telemetry import Settings
from airscope.telemetry._pyroscope import check_url, start, started, tags
from airscope.telemetry._settings import ConfigError
from tests.servers import CHECKOUT, AppServer
from tests.support import free_port

PUSH_PATH = "/push.v1.PusherService/Push"  # what pyroscope-io 1.4 pushes to (connect, protobuf)


# --- a minimal protobuf reader, for the push request and the pprof inside ------------------------
def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, at = _varint(data, at)
        elif kind == 2:
            size, at = _varint(data, at)
            value, at = data[at : at + size], at + size
        elif kind == 1:
            value, at = data[at : at + 8], at + 8
        elif kind == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise ValueError(f"wire type {kind}")
        yield number, value


def read_push(body: bytes) -> list[tuple[dict[str, str], list[str]]]:
    """PushRequest -> [(series labels, the pprof string table of each raw profile)]."""
    series = []
    for number, raw_series in _fields(body):
        if number != 1:
            continue
        labels: dict[str, str] = {}
        strings: list[str] = []
        for field, value in _fields(raw_series):
            if field == 1:  # LabelPair
                pair = dict(_fields(value))
                labels[pair[1].decode()] = pair[2].decode()
            elif field == 2:  # RawSample: raw_profile is a pprof Profile, gzipped or not
                profile = dict(_fields(value))[1]
                profile = gzip.decompress(profile) if profile[:2] == b"\x1f\x8b" else profile
                strings += [s.decode() for n, s in _fields(profile) if n == 6]
        series.append((labels, strings))
    return series


@pytest.fixture
def sink() -> Iterator[tuple[str, list[bytes]]]:
    """A Pyroscope stand-in answering 200 to every push; yields its URL and the bodies received."""
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.path == PUSH_PATH:
                # The agent compresses the whole request (Content-Encoding: gzip).
                encoded = self.headers.get("content-encoding") == "gzip"
                bodies.append(gzip.decompress(body) if encoded else body)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", bodies
    server.shutdown()
    server.server_close()


# Starts the agent as the kit does, with a real SDK tracer provider, and burns CPU in a named
# function inside a root span; prints the span's attributes.
AGENT_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from opentelemetry.sdk.trace import TracerProvider
    from airscope.telemetry import Settings
    from airscope.telemetry import _pyroscope

    settings = Settings(pyroscope_url=sys.argv[1], environment="production", instance_id="web-1")
    provider = TracerProvider()
    _pyroscope.start("orders", "2.0.0", settings, provider, upload_interval=1)
    _pyroscope.start("orders", "2.0.0", settings, provider, upload_interval=1)  # a second call: no-op

    def burn_cpu_for_the_test(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sum(range(1000))

    # Named as the kit's server span is: the method at start, the route once routed.
    with provider.get_tracer("t").start_as_current_span("GET") as span:
        with provider.get_tracer("t").start_as_current_span("child") as child:
            burn_cpu_for_the_test(2.5)
        span.update_name("GET /orders")
    time.sleep(1.5)
    print(json.dumps({"root": dict(span.attributes), "child": dict(child.attributes),
                      "span_id": format(span.get_span_context().span_id, "016x"),
                      "processors": len(provider._active_span_processor._span_processors)}))
    """
)


def test_profiles_reach_pyroscope_tagged_and_linked_to_the_root_span(sink):
    url, bodies = sink
    done = subprocess.run(
        [sys.executable, "-c", AGENT_SCRIPT, url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=CHECKOUT,
        env={"PYTHONPATH": str(CHECKOUT / "src")},
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The root span carries the id Grafana's *Profiles* link looks up; a child does not.
    assert result["root"] == {"pyroscope.profile.id": result["span_id"]}
    assert result["child"] == {}
    assert result["processors"] == 1  # linked once, though start ran twice

    assert bodies, "no profile was pushed"
    series = [s for body in bodies for s in read_push(body)]
    labels = {key: value for labels, _ in series for key, value in labels.items()}
    assert labels["service_name"] == "orders"
    assert {k: labels[k] for k in ("version", "environment", "instance")} == {
        "version": "2.0.0",
        "environment": "production",
        "instance": "web-1",
    }
    strings = {s for _, table in series for s in table}
    assert "burn_cpu_for_the_test" in strings
    # The samples taken inside the root span carry its id: the profile of that span.
    assert "span_id" in strings and result["span_id"] in strings
    # No span_name label: tagged by the start name and untagged by the end one, it would stay on.
    assert "span_name" not in strings and "span_name" not in labels


def profiled_sample_app():
    """Served by uvicorn: the sample app, instrumented from the environment as in production, with
    the agent started first at a one-second upload interval (the kit's is ten), so that a test sees
    several pushes fail within seconds."""
    import os

    from airscope.telemetry import _pyroscope, instrument
    from tests.telemetry.apps import sample_app

    settings = Settings.from_env()
    _pyroscope.start("sample", "1.0.0", settings, None, upload_interval=1)
    app = sample_app()

    @app.get("/agent")
    async def agent() -> dict:
        return {"profiling": _pyroscope.started()}

    instrument(app, service=os.environ["SAMPLE_SERVICE"], version="1.0.0", settings=settings)
    return app


@pytest.fixture
def serve_sample(run_app: Callable[..., AppServer]) -> Callable[..., AppServer]:
    def serve(**env: str) -> AppServer:
        return run_app(
            "tests.telemetry.test_pyroscope:profiled_sample_app",
            {"SAMPLE_SERVICE": "sample", "OTEL_EXPORTER_OTLP_ENDPOINT": None, **env},
            ready_path="/health/live",
            args=["--no-access-log"],
        )

    return serve


def _timed_requests(url: str, count: int) -> list[float]:
    took = []
    with httpx.Client(base_url=url, timeout=5) as client:
        for i in range(count):
            began = time.perf_counter()
            assert client.get(f"/items/{i}").status_code == 200
            took.append(time.perf_counter() - began)
    return took


def test_pyroscope_down_never_fails_or_slows_a_request(serve_sample, tmp_path):
    # Nothing listens on the port: every push fails, several times during the test.
    closed = f"http://127.0.0.1:{free_port()}"
    env = {"AIRSCOPE_TRACE_DIR": str(tmp_path / "traces"), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    app = serve_sample(AIRSCOPE_PYROSCOPE_URL=closed, **env)
    baseline = serve_sample(**env)
    assert httpx.get(app.url + "/agent").json() == {"profiling": "sample"}
    assert httpx.get(baseline.url + "/agent").json() == {"profiling": None}
    _timed_requests(app.url, 20)  # warm-up
    _timed_requests(baseline.url, 20)
    deadline = time.monotonic() + 3.5  # three failed uploads at least
    with_agent: list[float] = []
    without: list[float] = []
    while time.monotonic() < deadline:
        with_agent += _timed_requests(app.url, 20)
        without += _timed_requests(baseline.url, 20)
    assert app.process.poll() is None
    with_agent.sort()
    without.sort()
    # The median request is no slower than without the agent beyond noise, and none waits for a push.
    assert with_agent[len(with_agent) // 2] < without[len(without) // 2] * 2 + 0.002
    assert with_agent[-1] < 1.0


def test_nothing_starts_without_the_url():
    start("sample", "1", Settings(), None)
    assert started() is None
    # Nor is the native agent imported by the kit (seen in a fresh process).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from airscope.telemetry import instrument; from fastapi import FastAPI;"
            "from airscope.telemetry import Settings;"
            "instrument(FastAPI(), service='s', version='1', settings=Settings(), tracing=False);"
            "print('pyroscope' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(CHECKOUT / "src")},
        check=True,
    )
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("url", ["pyroscope:4040", "ftp://pyroscope", "http://", "not a url"])
def test_a_url_the_agent_cannot_push_to_stops_the_service_at_start(url):
    with pytest.raises(ConfigError, match="AIRSCOPE_PYROSCOPE_URL"):
        start("sample", "1", Settings(pyroscope_url=url), None)


def test_check_url_keeps_a_good_url_without_its_trailing_slash():
    assert check_url("http://pyroscope:4040/") == "http://pyroscope:4040"
    assert check_url("https://profiles.example.net") == "https://profiles.example.net"


def test_tags_are_few_and_name_the_instance():
    assert tags("1.0", Settings(environment="production", instance_id="mcp-server@2")) == {
        "version": "1.0",
        "environment": "production",
        "instance": "mcp-server@2",
    }
    assert tags("1.0", Settings())["instance"]  # the hostname where none is set


def test_the_sample_rate_is_read_and_bounded():
    assert Settings.from_env({"AIRSCOPE_PYROSCOPE_SAMPLE_RATE": "50"}).pyroscope_sample_rate == 50
    assert Settings.from_env({}).pyroscope_sample_rate == 100
    with pytest.raises(ConfigError, match="AIRSCOPE_PYROSCOPE_SAMPLE_RATE"):
        Settings.from_env({"AIRSCOPE_PYROSCOPE_SAMPLE_RATE": "5000"})
