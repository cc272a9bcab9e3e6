"""A shed answer's Retry-After sets the earliest retry of a saga step."""

from __future__ import annotations

import httpx
import pytest

from airscope.services.saga_orchestrator.engine import BACKOFF_MAX_SECONDS, retry_after


def _error(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://platform-services/api/workspaces")
    response = httpx.Response(status, headers=headers, request=request)
    return httpx.HTTPStatusError("shed", request=request, response=response)


@pytest.mark.parametrize(
    ("error", "seconds"),
    [
        (_error(503, {"Retry-After": "1"}), 1.0),
        (_error(429, {"Retry-After": "2.5"}), 2.5),
        (_error(503, {"Retry-After": "3600"}), BACKOFF_MAX_SECONDS),
        (_error(503, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}), 0.0),
        (_error(503), 0.0),
        (_error(500, {"Retry-After": "1"}), 0.0),
        (httpx.ConnectError("refused"), 0.0),
    ],
)
def test_retry_after_reads_the_delay_a_shed_answer_asks_for(error: BaseException, seconds: float) -> None:
    assert retry_after(error) == seconds
