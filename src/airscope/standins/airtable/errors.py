"""Airtable's error shapes, raised anywhere in the stand-in and answered by one set of handlers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse


class AirtableError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def error(status: int, kind: str, message: str) -> AirtableError:
    return AirtableError(status, {"error": {"type": kind, "message": message}})


def not_found() -> AirtableError:
    return AirtableError(404, {"error": "NOT_FOUND"})


def invalid(message: str) -> AirtableError:
    return error(422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: {message}")


def fault_body(status: int, message: str) -> dict[str, Any]:
    """The fault switch's failures, in Airtable's shape."""
    if status == 429:  # the shape of its real per-base limit's refusal (access.rate_limited)
        return {"errors": [{"error": "RATE_LIMIT_REACHED", "message": message}]}
    return {"error": {"type": "SERVICE_UNAVAILABLE" if status == 503 else "SERVER_ERROR", "message": message}}


async def _airtable_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AirtableError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return await _airtable_error(request, invalid(f"{where}: {first.get('msg', 'invalid')}"))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _airtable_error(request, not_found())
    return JSONResponse(
        {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": str(exc.detail)}},
        status_code=exc.status_code,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AirtableError, _airtable_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
