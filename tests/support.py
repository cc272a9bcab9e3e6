"""What many tests need, in one place: waiting for a condition (``wait_until``, and
``wait_until_async`` inside an event loop), free ports, a local platform's ports moved to free ones,
a Redis database of one's own, and an ASGI app served by uvicorn in this process.

Apps served as subprocesses, their metrics and their spans are in ``tests.servers``; the fixtures
built on both (PostgreSQL, Redis, the stand-ins, a Chromium page) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TypeVar

import pytest
import redis
import uvicorn

from airscope.local import ports

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.1,
    message: str = "the condition",
) -> T:
    """Calls ``condition`` until it returns a truthy value, and returns that value.

    An AssertionError it raises counts as "not yet", so a check written as asserts works too (it
    returns something truthy once its asserts pass). After ``timeout`` seconds it raises an
    AssertionError naming ``message`` and what the last call said.
    """
    tries = _tries(condition, timeout, message)
    try:
        while True:
            next(tries)
            time.sleep(interval)
    except StopIteration as done:
        return done.value


async def wait_until_async(
    condition: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.1,
    message: str = "the condition",
) -> T:
    """``wait_until`` for a condition that the test's own event loop makes true (a task of an app
    served in-process): it sleeps with ``asyncio.sleep``, so that loop runs meanwhile."""
    tries = _tries(condition, timeout, message)
    try:
        while True:
            next(tries)
            await asyncio.sleep(interval)
    except StopIteration as done:
        return done.value


def _tries(condition: Callable[[], T], timeout: float, message: str) -> Generator[None, None, T]:
    """Calls ``condition`` once per step until it holds (returning its value) or time is up; the
    caller sleeps between steps, its own way."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
            if result:
                return result
            last = f"it returned {result!r}"
        except AssertionError as failure:
            last = str(failure) or "an assertion failed"
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message}: not so within {timeout:g} s ({last})")
        yield


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now, never handed out before.

    The kernel may hand the same free port out twice before anyone listens on it: a platform asking
    for twenty ports at once would then get a collision.
    """
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def moved_ports(patch: pytest.MonkeyPatch, programs: Iterable[str]) -> dict[str, str]:
    """Moves each local-mode program to a free port (its ``AIRSCOPE_PORT_*`` variable, set on
    ``patch``); returns each program's URL."""
    urls = {}
    for name in programs:
        port = free_port()
        patch.setenv(ports.env_var(name), str(port))
        urls[name] = f"http://127.0.0.1:{port}"
    return urls


def redis_database(server_url: str, db: int) -> str:
    """The URL of database ``db`` of the Redis at ``server_url``, emptied: a test module's own
    (another module's data under the same keys cannot answer for it)."""
    url = server_url.rsplit("/", 1)[0] + f"/{db}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@contextlib.contextmanager
def serve_app(app: object, timeout: float = 10.0) -> Iterator[str]:
    """Serves the ASGI ``app`` with uvicorn on a thread of this process; yields its base URL.

    For apps a test builds itself (a fake upstream); a service or stand-in as it is deployed runs
    as a subprocess (``tests.servers.AppServer``).
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout=timeout,
            interval=0.01,
            message=f"uvicorn listening on port {port}",
        )
        if not server.started:
            raise RuntimeError(f"uvicorn stopped before it listened on port {port} (see the log above)")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
