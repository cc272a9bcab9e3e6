"""The continuous-profiling agent: CPU profiles pushed to Pyroscope, linked to the traces Tempo keeps.

Off unless ``AIRSCOPE_PYROSCOPE_URL`` is set (compose sets it; local mode profiles on demand with
py-spy instead). Then pyroscope-io's agent samples the process's own Python stacks from a native
thread (py-spy's reader, in-process: no ptrace, no capability, no GIL taken to sample) and pushes a
profile every ``UPLOAD_INTERVAL`` seconds from that thread. A request never waits for it: Pyroscope
down or unreachable costs a failed push in the background and nothing else.

With a tracer provider, pyroscope-otel's span processor (less its span-name label) marks each root
span of a kept trace with ``pyroscope.profile.id`` and tags the samples taken meanwhile with its
span id, which Grafana's Tempo datasource turns into the span's *Profiles* link (tracesToProfiles).
The tags are per thread: on the event loop, requests that interleave with the span lend it their
samples too.
"""

from __future__ import annotations

import socket
import threading
import weakref
from urllib.parse import urlsplit

from opentelemetry import trace

from airscope.telemetry._settings import PYROSCOPE_URL, ConfigError, Settings

# pyroscope-io's own default: each push carries ten seconds, so Pyroscope is at most that far behind.
UPLOAD_INTERVAL = 10.0

_lock = threading.Lock()
_configured: str | None = None  # the service the agent runs for, once started
_linked: weakref.WeakSet = weakref.WeakSet()  # tracer providers that already carry the span processor


def check_url(url: str) -> str:
    """The URL if the agent can push to it; a ConfigError naming the variable otherwise (the agent
    itself takes any string and then fails every push in silence)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{PYROSCOPE_URL}={url!r} is not an http(s) URL such as http://pyroscope:4040")
    return url.rstrip("/")


def tags(version: str, settings: Settings) -> dict[str, str]:
    """The labels every profile of this process carries beside service_name (the application name).

    Few and bounded, as they make series: the version compares releases, the instance tells the
    replicas apart (the container's hostname where the settings name none)."""
    return {
        "version": version,
        "environment": settings.environment,
        "instance": settings.instance_id or socket.gethostname(),
    }


def start(
    service: str,
    version: str,
    settings: Settings,
    provider: trace.TracerProvider | None,
    *,
    upload_interval: float = UPLOAD_INTERVAL,
) -> None:
    """Starts the agent for ``service`` (once a process: a second call only links its provider) and
    links the SDK ``provider``'s root spans to the profiles. Nothing is imported when the URL is unset."""
    if not settings.pyroscope_url:
        return
    url = check_url(settings.pyroscope_url)
    global _configured
    with _lock:
        if _configured is None:
            # Imported only here: the native agent (about 10 MB) stays out of every process without it.
            import pyroscope

            pyroscope.configure(
                application_name=service,
                server_address=url,
                sample_rate=settings.pyroscope_sample_rate,
                # Only threads running Python on a CPU: an idle event loop or a worker waiting on a
                # socket is no cost, and its samples would bury the functions that are.
                oncpu=True,
                gil_only=True,
                tags=tags(version, settings),
                upload_interval=int(upload_interval),
            )
            _configured = service
        add_span_processor = getattr(provider, "add_span_processor", None)
        if add_span_processor is not None and provider not in _linked:
            add_span_processor(_root_span_processor())
            _linked.add(provider)


def _root_span_processor():
    """pyroscope-otel's span processor without its ``span_name`` sample label.

    It tags the samples with the root span's name when the span starts and untags them by its name
    when it ends; the kit names its server span after the method at start and renames it to
    ``GET /route`` once routed, so the tag would never come off the event loop's thread (and says
    only ``GET`` meanwhile). The span id and trace id it tags by, and the ``pyroscope.profile.id``
    attribute Grafana's link reads, are kept as they are."""
    import pyroscope
    from pyroscope.otel import (
        PROFILE_ID_PYROSCOPE_TAG_KEY,
        PROFILE_ID_SPAN_ATTRIBUTE_KEY,
        TRACE_ID_PYROSCOPE_TAG_KEY,
        PyroscopeSpanProcessor,
        _get_span_id,
        _get_trace_id,
        _is_root_span,
    )

    class RootSpanProfiles(PyroscopeSpanProcessor):
        def on_start(self, span, parent_context=None) -> None:
            if _is_root_span(span):
                span_id = _get_span_id(span)
                span.set_attribute(PROFILE_ID_SPAN_ATTRIBUTE_KEY, span_id)
                pyroscope.add_thread_tag(PROFILE_ID_PYROSCOPE_TAG_KEY, span_id)
                pyroscope.add_thread_tag(TRACE_ID_PYROSCOPE_TAG_KEY, _get_trace_id(span))

        def on_end(self, span) -> None:
            if _is_root_span(span):
                pyroscope.remove_thread_tag(PROFILE_ID_PYROSCOPE_TAG_KEY, _get_span_id(span))
                pyroscope.remove_thread_tag(TRACE_ID_PYROSCOPE_TAG_KEY, _get_trace_id(span))

    return RootSpanProfiles()


def started() -> str | None:
    """The service the agent profiles, or None when it was never started in this process."""
    return _configured
