"""The platform path through the gateway, as a user drives it: sign up and in, upload a CSV into
Airtable, onboard a workspace with the saga; each step lands in platform-services' activity.
On the platform `airscope up` starts (tests/e2e/conftest.py)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

pytestmark = pytest.mark.infra

BASE = "appAirscopeDemo01"


@pytest.fixture(scope="module")
def user(platform: RunningPlatform) -> dict[str, str]:
    """A user registered and signed in through the gateway; ``headers`` carry their bearer token."""
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    registered = httpx.post(
        platform.api + "/auth/register",
        json={"email": email, "password": "correct horse battery"},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    login = httpx.post(
        platform.api + "/auth/login", json={"email": email, "password": "correct horse battery"}, timeout=10
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    return {"id": registered.json()["id"], "headers": {"Authorization": f"Bearer {token}"}}


def test_a_signed_in_user_is_known_to_the_gateway_and_platform_services(platform, user):
    me = httpx.get(platform.api + "/auth/me", headers=user["headers"], timeout=10)
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    refused = httpx.get(platform.api + "/auth/me", headers={"Authorization": "Bearer forged"}, timeout=10)
    assert refused.status_code == 401


def test_a_csv_upload_through_the_gateway_ends_as_records_in_airtable(platform, user):
    def product_count() -> int:
        records = httpx.get(
            platform.api + f"/airtable/bases/{BASE}/tables/Products/records",
            params={"maxRecords": 1000},
            headers=user["headers"],
            timeout=30,
        )
        assert records.status_code == 200, records.text
        return len(records.json()["records"])

    before, activity = product_count(), activity_today(platform)
    rows = "\n".join(f"Widget {i},E2E-{i},{i}.50,{i}" for i in range(25))
    upload = httpx.post(
        platform.api + "/automation/files",
        data={"base_id": BASE, "table": "Products"},
        files={"file": ("products.csv", f"Name,SKU,Price,Stock\n{rows}\n", "text/csv")},
        headers=user["headers"],
        timeout=30,
    )
    assert upload.status_code == 202, upload.text

    def finished() -> dict:
        state = httpx.get(
            platform.api + f"/automation/files/{upload.json()['id']}", headers=user["headers"], timeout=10
        ).json()
        assert state["status"] in ("completed", "partial", "failed"), state
        return state

    state = wait_until(finished, timeout=30, interval=0.5, message="the upload finished")
    assert (state["status"], state["rows_imported"], state["errors"]) == ("completed", 25, [])
    # The gateway caches reads for 30 s, but a write through it invalidates the base: fresh counts.
    wait_until(lambda: _equal(product_count(), before + 25), timeout=30, interval=0.5)
    counted_once_more(platform, "upload", activity)


def activity_today(platform: RunningPlatform) -> dict[str, int]:
    """Today's activity counts by type, from platform-services' analytics."""
    days = httpx.get(platform["platform-services"] + "/analytics/activity", params={"days": 1}, timeout=10)
    return days.json()["days"][-1]["counts"]


def counted_once_more(platform: RunningPlatform, kind: str, before: dict[str, int]) -> None:
    # At least: an earlier test's events are posted in the background and may land meanwhile.
    wait_until(
        lambda: activity_today(platform)[kind] >= before[kind] + 1,
        timeout=15,
        interval=0.5,
        message=f"one more {kind} in today's activity",
    )


def _equal(actual: object, expected: object) -> bool:
    assert actual == expected, f"{actual} != {expected}"
    return True


def test_onboarding_a_workspace_runs_the_saga_to_completion(platform, user):
    name, activity = f"Team {uuid.uuid4().hex[:6]}", activity_today(platform)
    started = httpx.post(
        platform.api + "/sagas/onboarding",
        params={"wait": "true"},
        json={"workspace_name": name},
        headers=user["headers"],
        timeout=60,
    )
    assert started.status_code == 201, started.text
    saga = httpx.get(
        platform.api + f"/sagas/{started.json()['id']}", headers=user["headers"], timeout=10
    ).json()
    assert saga["status"] == "completed", saga
    assert [step["status"] for step in saga["steps"]] == ["done", "done", "done"]
    tables = httpx.get(platform.api + f"/airtable/bases/{BASE}/tables", headers=user["headers"], timeout=10)
    assert any(name in table["name"] for table in tables.json()["tables"])
    counted_once_more(platform, "saga", activity)


def test_a_chat_with_a_token_counts_as_the_users_activity(platform, user):
    activity = activity_today(platform)
    chat = httpx.post(
        platform.api + "/chat",
        json={"message": "Which bases do I have?"},
        headers=user["headers"],
        timeout=60,
    )
    assert chat.status_code == 200, chat.text
    counted_once_more(platform, "chat", activity)
    assert activity["login"] >= 1  # the user fixture's sign-in
