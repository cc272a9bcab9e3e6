"""The profiling switch: off by default, refused in production, and naming the line that allocated
what a service grew by while it traced."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from airscope.telemetry import Settings

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


def test_the_switch_is_refused_in_production_and_off_unless_asked():
    with pytest.raises(
        ValueError, match="AIRSCOPE_PROFILE_SWITCH=1 is refused when AIRSCOPE_ENVIRONMENT=production"
    ):
        Settings.from_env({"AIRSCOPE_PROFILE_SWITCH": "1", "AIRSCOPE_ENVIRONMENT": "production"})
    assert Settings.from_env({"AIRSCOPE_PROFILE_SWITCH": "1"}).profile_switch
    assert not Settings.from_env({}).profile_switch


async def test_without_the_switch_there_is_no_profile_route(kit):
    async with kit.client() as client:
        assert (await client.post("/_profile/memory", json={"seconds": 0.1})).status_code == 404


async def test_a_memory_profile_names_the_line_that_grew_and_leaves_tracing_off(make_kit):
    kit = make_kit(settings=Settings(drills=True, profile_switch=True))
    async with kit.client() as client:
        profile = asyncio.create_task(client.post("/_profile/memory", json={"seconds": 0.5, "top": 5}))
        await asyncio.sleep(0.1)
        busy = await client.post("/_profile/memory", json={"seconds": 0.1})
        assert busy.status_code == 409 and busy.json()["error"] == "already_tracing"
        # The service keeps serving while it traces, and what it allocates meanwhile is traced.
        assert (await client.put("/_drill/memory", json={"bytes": 20 * MIB})).status_code == 200
        answer = (await profile).json()
        await client.delete("/_drill/memory")
    assert not tracemalloc.is_tracing()
    assert answer["seconds"] == 0.5 and len(answer["top"]) <= 5
    first = answer["top"][0]
    assert first["file"].endswith("telemetry/_drills.py") and first["grown_bytes"] >= 20 * MIB
    assert first["count"] >= 1 and first["line"] > 0
    assert answer["peak_bytes"] >= answer["traced_bytes"] >= 20 * MIB
    assert "profile: tracing memory" in kit.logs.text


async def test_an_empty_body_takes_the_defaults(make_kit, monkeypatch):
    from airscope.telemetry import _profile_switch

    monkeypatch.setattr(_profile_switch, "DEFAULT_SECONDS", 0.05)
    kit = make_kit(settings=Settings(profile_switch=True))
    async with kit.client() as client:
        answer = await client.post("/_profile/memory")
    assert answer.status_code == 200 and answer.json()["seconds"] == 0.05


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_body"),
        (b"[1]", "invalid_body"),
        (b'{"seconds": 0}', "invalid_seconds"),
        (b'{"seconds": 301}', "invalid_seconds"),
        (b'{"seconds": "5"}', "invalid_seconds"),
        (b'{"seconds": 1, "top": 0}', "invalid_top"),
        (b'{"seconds": 1, "top": 101}', "invalid_top"),
        (b'{"seconds": 1, "top": 2.5}', "invalid_top"),
    ],
)
async def test_a_bad_request_gets_a_422_that_says_what_to_send(make_kit, body, error):
    kit = make_kit(settings=Settings(profile_switch=True))
    async with kit.client() as client:
        answer = await client.post("/_profile/memory", content=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == error
    assert not tracemalloc.is_tracing()
