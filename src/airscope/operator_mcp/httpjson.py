"""One JSON ``GET`` against a telemetry backend's HTTP API (Loki's, Tempo's), the tenant sent as
``X-Scope-OrgID``; every failure a ``BackendError`` whose message names the backend, its URL and the
cause (the backend's own words for an HTTP error: Loki and Tempo answer those in plain text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from airscope.errors import AirscopeError
from airscope.operator_mcp import limits
from airscope.promapi import TENANT_HEADER

_SHOWN_CHARS = 500  # of an error answer: Loki's parse errors fit, an HTML error page is cut


class BackendError(AirscopeError):
    """``status``: the HTTP status the backend answered (None when nothing answered)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JSONAPI:
    def __init__(
        self,
        name: str,
        url: str,
        tenant: str | None = None,
        timeout: float = limits.CALL_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.where = f"{name} at {self.url}"
        headers = {TENANT_HEADER: tenant} if tenant else None
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport, headers=headers)

    def close(self) -> None:
        self._client.close()

    def fail(self, cause: str, status: int | None = None) -> BackendError:
        return BackendError(f"{self.where}: {cause}", status)

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        try:
            answer = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise self.fail(f"no answer to {path} ({exc.__class__.__name__}: {exc})") from exc
        if answer.is_error:
            text = answer.text.strip()[:_SHOWN_CHARS] or answer.reason_phrase
            raise self.fail(f"HTTP {answer.status_code} from {path}: {text}", answer.status_code)
        try:
            return orjson.loads(answer.content)
        except orjson.JSONDecodeError:
            raise self.fail(
                f"{path} answered something that is not JSON: {answer.text.strip()[:_SHOWN_CHARS]!r}",
                answer.status_code,
            ) from None
