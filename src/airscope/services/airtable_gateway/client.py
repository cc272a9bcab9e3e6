"""The Airtable REST client: one pooled httpx client, the per-base limiter, pagination and retries.

Retries: a 429 is retried for every method (Airtable refused it, so nothing happened), after the
``Retry-After`` it sends, until which the limiter holds every request to that base (one that would
wait longer than a request may back off is answered 503 at once, with the ``Retry-After``); 5xx
answers, timeouts and unreachable hosts only for reads, since a write may have taken effect.
Attempts and the total time spent backing off are both bounded, so a caller gets an answer (or a
clear error) within a known time, and the retries of all failed reads together stay within a
budget (``RetryBudget``). Failures become ``ServiceError``s with the codes of the gateway's contract.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any
from urllib.parse import quote

import httpx

from airscope.services.airtable_gateway.config import Config
from airscope.services.airtable_gateway.metrics import (
    RATE_LIMIT_WAIT,
    RATE_LIMITED_RESPONSES,
    REQUEST_DURATION,
    RETRIES,
)
from airscope.services.airtable_gateway.ratelimit import Paused, RateLimiter
from airscope.services.common import ServiceError
from airscope.telemetry import get_logger

log = get_logger(__name__)

PAGE_SIZE = 100  # Airtable's largest page
MAX_PAGES = 100  # a runaway offset chain must end somewhere
BACKOFF_BASE_SECONDS = 0.1
RETRY_RATIO = 0.2  # retries of failed reads: at most a fifth more requests...
RETRY_CAP = 10.0  # ...after the first ten, which let an isolated failure retry at once
META_LIMITER_KEY = "meta"  # the bases list is not a base's request; it gets a bucket of its own


class RetryBudget:
    """Retries of failed reads (5xx, timeouts, unreachable) add at most ``ratio`` of the requests:
    each request earns ``ratio`` of a retry, each retry spends one, at most ``cap`` kept.

    While Airtable fails everything, three attempts per read would spend the base's 5 requests/s on
    calls bound to fail and queue every other read behind them (a retry storm); with the budget a
    read gets its first attempt and the retries left. A 429's retry is not counted: the limiter
    holds it to Airtable's ``Retry-After``, so it cannot storm.
    """

    def __init__(self, ratio: float = RETRY_RATIO, cap: float = RETRY_CAP) -> None:
        self._ratio = ratio
        self._cap = cap
        self._tokens = cap

    def earn(self) -> None:
        self._tokens = min(self._cap, self._tokens + self._ratio)

    def spend(self) -> bool:
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class AirtableClient:
    def __init__(
        self,
        config: Config,
        limiter: RateLimiter,
        *,
        backoff_base: float = BACKOFF_BASE_SECONDS,
    ) -> None:
        self._limiter = limiter
        self._retry_budget = RetryBudget()
        self._max_attempts = config.max_attempts
        self._max_retry_wait = config.max_retry_wait_seconds
        self._backoff_base = backoff_base
        self._api_url = config.api_url
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_keepalive_connections,
            )
        )
        # httpx has no public view of its pool; the pool it wraps (httpcore's) has one. Reading it
        # here, not at scrape time, makes a future httpx that moves it fail at start-up, loudly.
        self._pool = transport._pool
        self._http = httpx.AsyncClient(
            base_url=config.api_url,
            transport=transport,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            headers={"Authorization": f"Bearer {config.api_key}"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def pool_connections(self) -> dict[str, int]:
        connections = list(self._pool.connections)
        idle = sum(1 for connection in connections if connection.is_idle())
        return {"in_use": len(connections) - idle, "idle": idle}

    async def probe(self) -> None:
        """The health check: Airtable answers our credential (no limiter wait, no retries, no metrics)."""
        response = await self._http.get("/v0/meta/bases")
        if response.status_code != 200:
            raise RuntimeError(f"GET /v0/meta/bases answered {response.status_code}")

    # -- the operations -------------------------------------------------------------------------

    async def list_bases(self) -> list[dict]:
        return await self._paginate("list_bases", "/v0/meta/bases", "bases", META_LIMITER_KEY, [])

    async def list_tables(self, base_id: str) -> list[dict]:
        body = await self._request("list_tables", "GET", f"/v0/meta/bases/{_seg(base_id)}/tables", base_id)
        return body.get("tables", [])

    async def list_records(
        self,
        base_id: str,
        table: str,
        *,
        max_records: int,
        formula: str | None = None,
        fields: list[str] | None = None,
        sort_field: str | None = None,
        sort_direction: str = "asc",
    ) -> list[dict]:
        params: list[tuple[str, str | int]] = [
            ("pageSize", min(PAGE_SIZE, max_records)),
            ("maxRecords", max_records),
        ]
        if formula:
            params.append(("filterByFormula", formula))
        params.extend(("fields[]", field) for field in fields or [])
        if sort_field:
            params += [("sort[0][field]", sort_field), ("sort[0][direction]", sort_direction)]
        path = _table_path(base_id, table)
        records = await self._paginate("list_records", path, "records", base_id, params, limit=max_records)
        return records[:max_records]

    async def get_record(self, base_id: str, table: str, record_id: str) -> dict:
        return await self._request(
            "get_record", "GET", f"{_table_path(base_id, table)}/{_seg(record_id)}", base_id
        )

    async def create_records(
        self, base_id: str, table: str, records: list[dict], typecast: bool, *, reserved: bool = False
    ) -> list[dict]:
        body = {"records": records, "typecast": typecast}
        answer = await self._request(
            "create_records", "POST", _table_path(base_id, table), base_id, json=body, reserved=reserved
        )
        return answer.get("records", [])

    async def update_records(
        self, base_id: str, table: str, records: list[dict], typecast: bool, *, reserved: bool = False
    ) -> list[dict]:
        body = {"records": records, "typecast": typecast}
        answer = await self._request(
            "update_records", "PATCH", _table_path(base_id, table), base_id, json=body, reserved=reserved
        )
        return answer.get("records", [])

    async def delete_record(self, base_id: str, table: str, record_id: str) -> dict:
        path = f"{_table_path(base_id, table)}/{_seg(record_id)}"
        return await self._request("delete_records", "DELETE", path, base_id)

    async def create_table(self, base_id: str, table: dict[str, Any]) -> dict:
        """Creates a table (``{"name", "description"?, "fields"}``); a taken name is 409 ``table_name_taken``.

        Airtable's API has no call that deletes a table: whoever must undo a creation can only
        rename it (``update_table``) or ask a person to delete it in the UI.
        """
        path = f"/v0/meta/bases/{_seg(base_id)}/tables"
        return await self._request("create_table", "POST", path, base_id, json=table)

    async def update_table(self, base_id: str, table: str, changes: dict[str, Any]) -> dict:
        """Renames and/or re-describes a table (``{"name"?, "description"?}``)."""
        path = f"/v0/meta/bases/{_seg(base_id)}/tables/{_seg(table)}"
        return await self._request("update_table", "PATCH", path, base_id, json=changes)

    # -- the machinery --------------------------------------------------------------------------

    async def reserve(self, base_id: str) -> None:
        """Waits for a limiter token of ``base_id``, for a request sent next with ``reserved=True``
        (a batch of writes fills while it waits: see batch.py)."""
        try:
            RATE_LIMIT_WAIT.observe(await self._limiter.acquire(base_id))
        except Paused as paused:
            raise _rate_limited(paused.seconds) from None

    async def _paginate(
        self,
        operation: str,
        path: str,
        items: str,
        limiter_key: str,
        params: list[tuple[str, str | int]],
        *,
        limit: int | None = None,
    ) -> list[dict]:
        """Follows Airtable's ``offset`` until the last page, or until ``limit`` items arrived."""
        collected: list[dict] = []
        offset: str | None = None
        for _ in range(MAX_PAGES):
            page_params = [*params, ("offset", offset)] if offset else params
            body = await self._request(operation, "GET", path, limiter_key, params=page_params)
            collected.extend(body.get(items, []))
            offset = body.get("offset")
            if not offset or (limit is not None and len(collected) >= limit):
                return collected
        log.warning("pagination stopped", operation=operation, pages=MAX_PAGES)
        return collected

    async def _request(
        self,
        operation: str,
        method: str,
        path: str,
        limiter_key: str,
        *,
        params: list[tuple[str, str | int]] | None = None,
        json: dict | None = None,
        reserved: bool = False,
    ) -> dict:
        """``reserved``: the caller already holds the first attempt's limiter token (``reserve``)."""
        idempotent = method == "GET"
        backed_off = 0.0
        self._retry_budget.earn()
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1 or not reserved:
                await self.reserve(limiter_key)
            started = time.perf_counter()
            try:
                response = await self._http.request(method, path, params=params, json=json)
            except httpx.TimeoutException as exc:
                REQUEST_DURATION.labels(operation, "timeout").observe(time.perf_counter() - started)
                reason, retryable, delay = "timeout", idempotent, self._backoff(attempt)
                error = ServiceError(
                    504, "airtable_timeout", f"Airtable did not answer in time ({type(exc).__name__})"
                )
            except httpx.TransportError as exc:
                REQUEST_DURATION.labels(operation, "unreachable").observe(time.perf_counter() - started)
                reason, retryable, delay = "unreachable", idempotent, self._backoff(attempt)
                error = ServiceError(
                    503,
                    "airtable_unavailable",
                    f"Airtable is unreachable at {self._api_url} ({type(exc).__name__})",
                )
            else:
                status = response.status_code
                REQUEST_DURATION.labels(operation, str(status)).observe(time.perf_counter() - started)
                if status != 429:
                    self._limiter.answered(limiter_key)
                if status < 300:
                    return _json_body(response)
                if status == 429:
                    RATE_LIMITED_RESPONSES.inc()
                    retry_after = _retry_after(response)
                    reason, retryable = "rate_limited", True
                    delay = retry_after if retry_after is not None else max(1.0, self._backoff(attempt))
                    # Every request to this base waits it out in the limiter, this retry included.
                    self._limiter.rate_limited(limiter_key, delay)
                    error = _rate_limited(delay)
                elif status >= 500:
                    reason, retryable, delay = "server_error", idempotent, self._backoff(attempt)
                    error = ServiceError(
                        502, "airtable_error", f"Airtable answered {status} ({_airtable_error(response)})"
                    )
                else:
                    raise _client_error(response)
            if not retryable or attempt == self._max_attempts or backed_off + delay > self._max_retry_wait:
                raise error
            if reason != "rate_limited" and not self._retry_budget.spend():
                log.info("retry budget spent: answering the error", operation=operation, reason=reason)
                raise error
            RETRIES.labels(operation, reason).inc()
            log.info(
                "retrying Airtable request",
                operation=operation,
                reason=reason,
                attempt=attempt,
                delay_s=round(delay, 3),
            )
            if reason != "rate_limited":  # the limiter holds a rate-limited retry until Retry-After
                await asyncio.sleep(delay)
            backed_off += delay
        raise AssertionError("unreachable: the last attempt raises")

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so retries never bunch at zero.
        step = self._backoff_base * 2 ** (attempt - 1)
        return step / 2 + random.uniform(0, step / 2)


def _seg(value: str) -> str:
    """One path segment: table names may hold spaces, slashes or question marks."""
    return quote(value, safe="")


def _table_path(base_id: str, table: str) -> str:
    return f"/v0/{_seg(base_id)}/{_seg(table)}"


def _json_body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ServiceError(502, "airtable_error", "Airtable answered with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise ServiceError(502, "airtable_error", "Airtable answered with JSON that is not an object")
    return body


def _rate_limited(retry_after: float) -> ServiceError:
    return ServiceError(
        503,
        "airtable_rate_limited",
        "Airtable's rate limit for this base is exhausted; try again later",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _airtable_error(response: httpx.Response) -> str:
    """Airtable's own words: ``{"error": "TYPE"}``, ``{"error": {"type", "message"}}`` or ``{"errors": [...]}``."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if error is None and isinstance(body.get("errors"), list) and body["errors"]:
            error = body["errors"][0]
        if isinstance(error, str):
            return error
        if isinstance(error, dict):
            kind, message = error.get("type") or error.get("error"), error.get("message")
            return ": ".join(str(part) for part in (kind, message) if part) or f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}"


def _client_error(response: httpx.Response) -> ServiceError:
    status, reason = response.status_code, _airtable_error(response)
    if status == 404:
        return ServiceError(404, "not_found", f"Airtable: {reason}")
    if status == 422 and reason.startswith("DUPLICATE_TABLE_NAME"):
        return ServiceError(409, "table_name_taken", f"Airtable: {reason}")
    if status in (400, 413, 422):
        return ServiceError(422, "invalid_request", f"Airtable rejected the request: {reason}")
    if status in (401, 403):
        return ServiceError(
            502,
            "airtable_auth",
            f"Airtable refused the gateway's credential ({status} {reason}); check AIRTABLE_API_KEY",
        )
    return ServiceError(502, "airtable_error", f"Airtable answered {status} ({reason})")
