"""`airscope fuzz` reports what it exists to find, and composes the documents of the services that
publish none."""

from __future__ import annotations

from collections.abc import Callable

from airscope.local import api_documents, fuzz
from tests.servers import AppServer


def test_a_server_error_and_an_undocumented_status_are_reported(run_app: Callable[..., AppServer]) -> None:
    server = run_app("tests.hostile.broken_app")
    target = fuzz.Target("broken", server.url, api_documents.published(server.url))

    report = fuzz.fuzz(target, examples=25, seed=fuzz.DEFAULT_SEED)

    found = {(failure.operation, failure.check, failure.status) for failure in report.failures}
    assert ("POST /notes", "Server error", 500) in found
    assert ("GET /notes/{number}", "Undocumented status code", 404) in found
    assert report.operations == 2
    broken = next(f for f in report.failures if f.status == 500)
    assert broken.curl.startswith("curl -X POST") and server.url in broken.curl


def test_the_gateway_document_holds_what_it_forwards_behind_its_authentication() -> None:
    upstream = {
        "openapi": "3.1.0",
        "info": {"title": "platform-services", "version": "1"},
        "paths": {
            "/auth/login": {"post": {"responses": {"200": {"description": "tokens"}}}},
            "/auth/me": {"get": {"responses": {"200": {"description": "the user"}}}},
            "/workspaces": {"get": {"responses": {"200": {"description": "internal only"}}}},
        },
        "components": {"schemas": {}},
    }

    paths = api_documents.gateway_document({"platform-services": upstream})["paths"]

    assert set(paths) == {"/api/auth/login", "/api/auth/me"}
    assert "401" not in paths["/api/auth/login"]["post"]["responses"]  # public: login needs no key
    assert {"401", "429"} <= set(paths["/api/auth/me"]["get"]["responses"])


def test_only_the_http_servers_own_refusal_of_an_unparsable_request_is_passed_over() -> None:
    # uvicorn answers this to a request line over its size limit, before any app code runs.
    assert fuzz.refused_by_the_http_server(400, "Invalid HTTP request received.")
    assert not fuzz.refused_by_the_http_server(400, '{"error":"http_error","message":"There was an error"}')
    assert not fuzz.refused_by_the_http_server(500, "Invalid HTTP request received.")
