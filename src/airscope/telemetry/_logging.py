"""Structured JSON logs on stdout: one object a line, for structlog and the standard library alike."""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
import time
from typing import IO

import orjson
import structlog
from opentelemetry import trace

from airscope.telemetry._context import current_request
from airscope.telemetry._metrics import DROPPED
from airscope.telemetry._redact import RedactSecrets, redact_text

# Standard-library loggers whose INFO lines repeat what the access line already says.
_QUIET_LOGGERS = {
    "uvicorn.access": logging.WARNING,
    **dict.fromkeys(("httpx", "httpcore", "httpx2", "httpcore2"), logging.WARNING),
}


_second: tuple[int, str] = (-1, "")


def rfc3339_now() -> str:
    """Now as RFC 3339, UTC, milliseconds (structlog's TimeStamper gives microseconds or local time).

    The formatted second is cached: a line costs one time() call and one f-string.
    """
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"


def add_timestamp(logger, method_name: str, event_dict: dict) -> dict:
    event_dict["timestamp"] = rfc3339_now()
    return event_dict


class AddService:
    """The serving app's name inside a request, else the process's own."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, logger, method_name: str, event_dict: dict) -> dict:
        request = current_request.get()
        event_dict.setdefault("service", request.service if request else self.service)
        return event_dict


def add_trace_context(logger, method_name: str, event_dict: dict) -> dict:
    """trace_id, span_id and trace_sampled of the current span, request_id of the current request.

    Every line inside a span carries its trace id, kept or not (a search by id finds the request's
    lines either way); trace_sampled says whether the trace reached the trace store, so a link to it
    is offered only when it can be opened (production keeps one trace in ten).
    """
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
        event_dict["trace_sampled"] = context.trace_flags.sampled
    request = current_request.get()
    if request is not None:
        event_dict["request_id"] = request.request_id
    return event_dict


def add_logger_name(logger, method_name: str, event_dict: dict) -> dict:
    record = event_dict.get("_record")
    event_dict["logger"] = record.name if record is not None else getattr(logger, "name", "app")
    return event_dict


def _render(logger, method_name: str, event_dict: dict) -> bytes:
    return orjson.dumps(event_dict, default=str, option=orjson.OPT_NON_STR_KEYS)


# Bytes of rendered lines a descriptor's writer thread may hold (a few thousand lines); beyond, new
# lines are dropped and counted, so a stdout no one drains costs bounded memory and no latency.
MAX_PENDING_BYTES = 4 << 20
# How long a stopping service waits for its held lines to reach a stdout that may be stuck.
DRAIN_SECONDS = 2.0


class DescriptorWriter:
    """Writes lines to a file descriptor from a thread of its own, behind a bounded buffer.

    Any descriptor can block a write: a pipe no one drains (a stalled log collector), a terminal
    on hold, a hung disk; written from the event loop, that stops every request. A thread and a
    bounded buffer, the span processor's own design, rather than O_NONBLOCK on stdout: that flag
    belongs to the open file description, which stderr, child processes and an interactive shell
    share, and would make their writes fail.
    """

    def __init__(self, fd: int, max_bytes: int = MAX_PENDING_BYTES) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self.pending_bytes = 0  # held or being written; never above max_bytes
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def write(self, line: bytes) -> None:
        """Holds one line (with its newline) for the thread; drops and counts it when full."""
        with self._lock:
            if self.pending_bytes + len(line) > self.max_bytes:
                DROPPED.add("logs")
                return
            self._lines.append(line)
            self.pending_bytes += len(line)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"log-writer-{self.fd}", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Wakes the thread for what is held (it does not wait for the write)."""
        with self._lock:
            if self._lines:
                self._wake.notify()

    def drain(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds until every held line is written; True when they are."""
        with self._lock:
            if self._lines:
                self._wake.notify()
            return self._idle.wait_for(lambda: self.pending_bytes == 0, timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._lines)
                lines, self._lines = self._lines, []
            data = b"".join(lines)
            try:
                _write_all(self.fd, data)
            except OSError:
                DROPPED.add("logs", len(lines))
            with self._lock:
                self.pending_bytes -= len(data)
                if self.pending_bytes == 0:
                    self._idle.notify_all()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class StreamWriter:
    """Writes lines straight into an in-memory stream (tests' buffers), which cannot block."""

    def __init__(self, stream: IO) -> None:
        self.stream = stream

    def write(self, line: bytes) -> None:
        binary = getattr(self.stream, "buffer", None)
        if binary is not None:
            binary.write(line)
        else:
            self.stream.write(line.decode())

    def flush(self) -> None:
        binary = getattr(self.stream, "buffer", None)
        if binary is not None:
            binary.flush()
        self.stream.flush()


# One writer per descriptor, for the process's life: every configuration writing to stdout shares it.
_descriptor_writers: dict[int, DescriptorWriter] = {}


def writer_for(stream: IO) -> DescriptorWriter | StreamWriter:
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is both
        return StreamWriter(stream)
    writer = _descriptor_writers.get(fd)
    if writer is None:
        writer = _descriptor_writers[fd] = DescriptorWriter(fd)
    return writer


def _forget_writers() -> None:
    # A forked child has none of the parent's threads: its writers start afresh.
    _descriptor_writers.clear()


def _drain_writers() -> None:
    # The threads are daemons (a stuck stdout must not keep a process alive): write what they hold.
    for writer in list(_descriptor_writers.values()):
        writer.drain(DRAIN_SECONDS)


os.register_at_fork(after_in_child=_forget_writers)
atexit.register(_drain_writers)


class LineOutput:
    """Where rendered lines go (stdout by default); a failing or stuck stream drops lines and counts them.

    A full disk, a closed pipe or a pipe no one drains under stdout must never fail or slow the
    request that logged: a real descriptor is written by a thread behind a bounded buffer
    (DescriptorWriter). Access lines (``defer=True``) written during one event-loop iteration are
    handed over together at its end; every other line (errors above all) at once.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._writer: tuple[IO, DescriptorWriter | StreamWriter] | None = None
        self._pending = 0
        self._flush_scheduled = False

    def writer(self) -> DescriptorWriter | StreamWriter:
        stream = self._stream or sys.stdout
        # Cached per stream object: stdout is looked up on every line, and tests swap it.
        if self._writer is None or self._writer[0] is not stream:
            self._writer = (stream, writer_for(stream))
        return self._writer[1]

    def write(self, line: bytes | str, defer: bool = False) -> None:
        try:
            self.writer().write((line.encode() if isinstance(line, str) else line) + b"\n")
        except (OSError, ValueError):
            DROPPED.add("logs")
            return
        self._pending += 1
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop() if defer else None
        except RuntimeError:
            loop = None
        if loop is None:
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, 0
        try:
            self.writer().flush()
        except (OSError, ValueError):
            DROPPED.add("logs", pending)

    def drain(self, timeout: float) -> None:
        """Flushes, then waits up to ``timeout`` seconds for a descriptor's thread to write it all."""
        self.flush()
        writer = self.writer()
        if isinstance(writer, DescriptorWriter):
            writer.drain(timeout)


class LineWriter:
    """The logger structlog calls: hands every rendered line to the output, whatever its level."""

    def __init__(self, output: LineOutput, name: str = "app") -> None:
        self._output = output
        self.name = name

    def _write(self, line: bytes | str) -> None:
        self._output.write(line)

    msg = debug = info = warning = warn = error = critical = exception = fatal = _write


class _StdlibHandler(logging.StreamHandler):
    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._writer.info(self.format(record))
        except Exception:
            DROPPED.add("logs")


def shared_processors(service: str) -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        # Before the kit's own fields: those hold no secret, and redaction is the costly step.
        RedactSecrets(),
        structlog.processors.add_log_level,
        add_logger_name,
        add_timestamp,
        AddService(service),
        add_trace_context,
    ]


class AccessLog:
    """Writes the middleware's access line directly: same fields and format as any other line.

    The middleware already knows every field, so the general processor chain (several dict
    passes, a span lookup, redaction of fields that cannot hold secrets) would be pure cost on
    the hottest path of every service. Only ``path`` comes from outside, so only it is redacted.
    """

    def __init__(self, output: LineOutput, level: int) -> None:
        self._output = output
        self.level = level

    def write(self, level: int, fields: dict) -> None:
        if level < self.level:
            return
        fields["path"] = redact_text(fields["path"])
        line = {
            "timestamp": rfc3339_now(),
            "level": _LEVEL_NAMES[level],
            "logger": "access",
            "event": "request",
            **fields,
        }
        self._output.write(orjson.dumps(line), defer=True)

    def drain(self) -> None:
        self._output.drain(DRAIN_SECONDS)


_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info"}

_handler: _StdlibHandler | None = None
_access: AccessLog | None = None


def configure_logging(service: str, *, level: str = "info", stream: IO[str] | None = None) -> None:
    """Routes structlog and the standard library's logging to JSON lines on ``stream`` (stdout)."""
    global _handler, _access
    output = LineOutput(stream)
    writer = LineWriter(output, "root")
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    _access = AccessLog(output, numeric_level)
    structlog.configure(
        processors=[*shared_processors(service), _render],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=lambda name="app", *args: LineWriter(output, name),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(service),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _render_str],
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = _StdlibHandler(writer)
    _handler.setFormatter(formatter)
    root.addHandler(_handler)
    root.setLevel(numeric_level)
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet_level, numeric_level))
    # uvicorn installs its own handlers on its loggers; send them through the root instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def _render_str(logger, method_name: str, event_dict: dict) -> str:
    return _render(logger, method_name, event_dict).decode()


def reset_logging() -> None:
    """Undoes configure_logging (for tests)."""
    global _handler, _access
    _access = None
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    structlog.reset_defaults()


def is_configured() -> bool:
    return _handler is not None


def flush() -> None:
    """Writes out the lines still held back, waiting a bounded time for stdout (the app is stopping)."""
    if _access is not None:
        _access.drain()


def access_log() -> AccessLog:
    """The access-line writer of the current configuration (stdout at info when unconfigured)."""
    global _access
    if _access is None:
        _access = AccessLog(LineOutput(), logging.INFO)
    return _access


def get_logger(name: str = "app"):
    """A structlog logger whose lines carry ``logger=name``; it follows later reconfiguration."""
    return structlog.get_logger(name)
