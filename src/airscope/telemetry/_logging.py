"""Structured JSON logs on stdout: one object a line, for structlog and the standard library alike."""

from __future__ import annotations

import asyncio
import logging
import sys
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
    """trace_id and span_id of the current span, request_id of the current request."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
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


class LineOutput:
    """Where rendered lines go (stdout by default); a failing stream drops lines and counts them.

    A full disk or a closed pipe under stdout must never fail the request that logged.
    Access lines (``defer=True``) written during one event-loop iteration are flushed together
    at its end: under load that is one write() for many lines instead of one each, and each
    write() released the GIL to a busy exporter thread for up to a switch interval. Every other
    line (errors above all) is flushed at once, so none is lost if the process dies.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._pending = 0
        self._flush_scheduled = False

    def write(self, line: bytes | str, defer: bool = False) -> None:
        stream = self._stream or sys.stdout
        try:
            binary = getattr(stream, "buffer", None)
            if binary is not None and isinstance(line, bytes):
                binary.write(line + b"\n")
            else:
                stream.write((line.decode() if isinstance(line, bytes) else line) + "\n")
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
        stream = self._stream or sys.stdout
        try:
            binary = getattr(stream, "buffer", None)
            if binary is not None:
                binary.flush()
            stream.flush()
        except (OSError, ValueError):
            DROPPED.add("logs", pending)


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

    def flush(self) -> None:
        self._output.flush()


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
    """Writes out access lines still held back (the app is stopping)."""
    if _access is not None:
        _access.flush()


def access_log() -> AccessLog:
    """The access-line writer of the current configuration (stdout at info when unconfigured)."""
    global _access
    if _access is None:
        _access = AccessLog(LineOutput(), logging.INFO)
    return _access


def get_logger(name: str = "app"):
    """A structlog logger whose lines carry ``logger=name``; it follows later reconfiguration."""
    return structlog.get_logger(name)
