"""Which Alertmanager the commands talk to, and a client of it whose failure to connect names the setting.

The local platform's Alertmanager (its port moves with ``AIRSCOPE_PORT_ALERTMANAGER``) unless
``$AIRSCOPE_ALERTMANAGER_URL`` or a command's ``--alertmanager-url`` names another, so the same
commands silence production's Alertmanager. The client is ``airscope.promapi.Alertmanager`` (the one
client of the API); this module only adds where it is and what to do when it does not answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airscope.errors import AirscopeError
from airscope.local import observability
from airscope.local.settings import ALERTMANAGER_URL_ENV, OperatorSettings
from airscope.promapi import DEFAULT_TIMEOUT, Alertmanager, PromAPIError

URL_ENV = ALERTMANAGER_URL_ENV


def local_url() -> str:
    return f"http://127.0.0.1:{observability.local_ports()['alertmanager']}"


def default_url() -> str:
    """``$AIRSCOPE_ALERTMANAGER_URL``, else the local platform's Alertmanager."""
    return (OperatorSettings.from_env().alertmanager_url or "").strip() or local_url()


@contextmanager
def connect(url: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Iterator[Alertmanager]:
    """A client of the Alertmanager at ``url`` (default: ``default_url()``). Not reaching it raises an
    AirscopeError naming the URL and how to point at another; any other failure is promapi's
    PromAPIError, which carries Alertmanager's own words."""
    url = (url or default_url()).rstrip("/")
    with Alertmanager(url, timeout=timeout) as client:
        try:
            yield client
        except PromAPIError as exc:
            if exc.answered:
                raise
            raise AirscopeError(
                f"{exc}. Locally: is the platform up "
                f"(`airscope status`)? Another Alertmanager: --alertmanager-url URL or ${URL_ENV}"
            ) from None
