"""One JSON error shape for every service, each failure logged once, at a level that fits it.

Body: ``{"error": "<code>", "message": "<what went wrong and what to do>"}`` (plus ``details``
for validation errors). ``code`` is a short snake_case word from a closed set per service, so
clients and dashboards can branch on it; ``message`` is for people.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from airscope.telemetry import get_logger

log = get_logger("airscope.errors")


def _default_level(status: int) -> int:
    # A client's mistake is routine; a dependency that failed us is worth a warning; our own bug
    # is an error (the kit logs unhandled exceptions, with their traceback, itself).
    if status < 500:
        return logging.INFO
    return logging.WARNING if status in (502, 503, 504) else logging.ERROR


class ServiceError(Exception):
    """Raise it anywhere in a request: the handler answers it as JSON and logs it once."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        level: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.level = _default_level(status) if level is None else level
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ErrorBody(BaseModel):
    """The error shape, as the OpenAPI documents describe it."""

    error: str
    message: str
    details: Any = None


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route that answers these error statuses (with the error shape)."""
    return {status: {"model": ErrorBody, "description": HTTPStatus(status).phrase} for status in statuses}


def error_response(error: ServiceError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    log.log(exc.level, "request failed", error=exc.code, status=exc.status, reason=exc.message)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: the rejected input itself may be large or secret.
    details = [
        {"location": ".".join(str(part) for part in e.get("loc", ())), "problem": e.get("msg", "")}
        for e in exc.errors()
    ]
    first = details[0] if details else {"location": "request", "problem": "invalid"}
    error = ServiceError(
        422,
        "invalid_request",
        f"{first['location']}: {first['problem']}",
        details=details,
    )
    return await _service_error(request, error)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route for {request.method} {request.url.path}"
    error = ServiceError(exc.status_code, codes.get(exc.status_code, "http_error"), message)
    error.headers = dict(exc.headers or {})
    return await _service_error(request, error)


def install_error_handlers(app: FastAPI) -> None:
    """Answers ServiceError, validation errors and Starlette's HTTP errors with the JSON shape, and
    says so in the app's OpenAPI document."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_exception)
    _document_error_answers(app)


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _document_error_answers(app: FastAPI) -> None:
    """FastAPI documents its own 422 body (HTTPValidationError), not the one ``_validation_error``
    sends, and not the 400 Starlette answers a body it cannot parse (not UTF-8, say); clients and
    the fuzzer (`airscope fuzz`) read the document, so it must name what is sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["ErrorBody"] = ErrorBody.model_json_schema()
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for answer in responses.values():
                    if (
                        answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                        == _FASTAPI_422
                    ):
                        answer["content"] = error
                if "requestBody" in operation:
                    responses.setdefault(
                        "400", {"description": "The body cannot be parsed", "content": error}
                    )
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
