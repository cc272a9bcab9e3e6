"""File imports: an uploaded file's rows become Airtable records through airtable-gateway.

Rows go in batches (at most 10, Airtable's limit) with ``typecast`` so CSV text becomes numbers,
dates and choices. A batch the gateway rejects (422: one bad row spoils the batch) is sent again
row by row, so every bad row gets its own error and the good ones are still imported. Progress is
committed after each batch, and a retried job resumes after the last committed batch. A gateway
that is down (5xx, timeout, unreachable) fails the attempt: the queue retries it with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote

import httpx

from airscope.services.automation_services import metrics
from airscope.services.automation_services.parsing import FileType, ParseError, parse
from airscope.services.automation_services.queue import Job
from airscope.services.automation_services.store import Store
from airscope.telemetry import get_logger

log = get_logger(__name__)


class GatewayUnavailable(Exception):
    """airtable-gateway did not do the request (5xx, timeout, unreachable): worth another attempt."""


class GatewayRejected(Exception):
    """airtable-gateway refused the request (4xx): sending it again changes nothing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _segment(value: str) -> str:
    # A table name may hold "/" or "?"; it must stay one path segment.
    return quote(value, safe="")


class Gateway:
    """The few airtable-gateway calls automation-services makes."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, timeout_seconds: float) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.client.request(
                method, self.base_url + path, timeout=self.timeout_seconds, **kwargs
            )
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"airtable-gateway unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500:
            raise GatewayUnavailable(
                f"airtable-gateway answered {response.status_code}: {_message(response)}"
            )
        if response.status_code >= 400:
            raise GatewayRejected(response.status_code, _message(response))
        return response.json()

    async def create_records(self, base_id: str, table: str, rows: Sequence[dict[str, Any]]) -> int:
        body = {"records": [{"fields": row} for row in rows], "typecast": True}
        answer = await self._request("POST", f"/bases/{base_id}/tables/{_segment(table)}/records", json=body)
        return len(answer.get("records", []))

    async def list_tables(self, base_id: str) -> list[dict[str, Any]]:
        return (await self._request("GET", f"/bases/{base_id}/tables")).get("tables", [])

    async def list_records(
        self, base_id: str, table: str, *, max_records: int, fields: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        params: list[tuple[str, str | int]] = [("maxRecords", max_records), *(("fields", f) for f in fields)]
        answer = await self._request(
            "GET", f"/bases/{base_id}/tables/{_segment(table)}/records", params=params
        )
        return answer.get("records", [])


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or str(response.status_code)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return response.reason_phrase or str(response.status_code)


class ImportAborted(Exception):
    """The whole file cannot be imported (its base or table is missing, say)."""


def _aborted(exc: GatewayRejected) -> ImportAborted:
    return ImportAborted(f"airtable-gateway refused the import ({exc.status}): {exc.message}")


class Importer:
    """The handler of the ``imports`` queue: a job's id is a file's id."""

    def __init__(self, store: Store, gateway: Gateway, batch_size: int) -> None:
        self.store = store
        self.gateway = gateway
        self.batch_size = batch_size

    async def handle(self, job: Job) -> None:
        state = await self.store.start_import(job.id)
        if state is None:
            return
        try:
            rows = parse(state.content, cast(FileType, state.type)).rows
        except ParseError as exc:
            # Checked at upload; only a file stored by an older, laxer version gets here.
            await self._finish(job.id, error=f"the file cannot be parsed: {exc}")
            return
        log.info(
            "import started", file=job.id, rows=len(rows), resume_at=state.next_row, attempt=job.attempts + 1
        )
        try:
            for start in range(state.next_row, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                imported, errors = await self._import_batch(
                    state.base_id, state.table, batch, first_row=start + 1
                )
                await self.store.record_batch(
                    job.id, next_row=start + len(batch), imported=imported, errors=errors
                )
                metrics.RECORDS_IMPORTED.inc(imported)
                metrics.ROW_ERRORS.labels(state.type).inc(len(errors))
        except ImportAborted as exc:
            await self._finish(job.id, error=str(exc))
            return
        await self._finish(job.id)

    async def give_up(self, job: Job, reason: str) -> None:
        await self._finish(job.id, error=f"gave up after {job.attempts + 1} attempts: {reason}")

    async def _import_batch(
        self, base_id: str, table: str, batch: Sequence[dict[str, Any]], *, first_row: int
    ) -> tuple[int, list[tuple[int, str]]]:
        """Rows imported and (row number, message) for each rejected row."""
        try:
            return await self.gateway.create_records(base_id, table, batch), []
        except GatewayRejected as exc:
            if exc.status != 422:
                raise _aborted(exc) from exc
            if len(batch) == 1:
                return 0, [(first_row, exc.message)]
        imported, errors = 0, []
        for number, row in enumerate(batch, start=first_row):
            try:
                imported += await self.gateway.create_records(base_id, table, [row])
            except GatewayRejected as exc:
                if exc.status != 422:
                    raise _aborted(exc) from exc
                errors.append((number, exc.message))
        return imported, errors

    async def _finish(self, file_id: str, *, error: str | None = None) -> None:
        final = await self.store.finish_import(file_id, error=error)
        if final is None:
            return
        duration = (datetime.now(UTC) - final["started_at"]).total_seconds()
        metrics.FILES_PROCESSED.labels(final["type"], final["status"]).inc()
        metrics.FILE_PROCESSING_DURATION.labels(final["type"]).observe(max(0.0, duration))
        run_status = "failed" if final["status"] == "failed" else "succeeded"
        metrics.WORKFLOW_RUNS.labels("csv-import", run_status).inc()
        log.info(
            "import finished",
            file=file_id,
            status=final["status"],
            rows_imported=final["rows_imported"],
            rows_failed=final["rows_failed"],
            seconds=round(duration, 3),
        )
