"""The drill switches: off by default, refused in production, holding real resident memory, and
burning CPU in every request of the service."""

from __future__ import annotations

import time

import psutil
import pytest

from airscope.telemetry import Settings
from airscope.telemetry._drills import burn_cpu

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


def resident_bytes() -> int:
    return psutil.Process().memory_info().rss


def test_drills_are_refused_in_production_and_off_unless_asked():
    with pytest.raises(ValueError, match="AIRSCOPE_DRILLS=1 is refused when AIRSCOPE_ENVIRONMENT=production"):
        Settings.from_env({"AIRSCOPE_DRILLS": "1", "AIRSCOPE_ENVIRONMENT": "production"})
    assert Settings.from_env({"AIRSCOPE_DRILLS": "1"}).drills
    assert not Settings.from_env({}).drills
    assert not Settings.from_env({"AIRSCOPE_DRILLS": "yes", "AIRSCOPE_ENVIRONMENT": "production"}).drills


async def test_without_the_switch_there_is_no_drill_route(kit):
    async with kit.client() as client:
        assert (await client.put("/_drill/memory", json={"bytes": MIB})).status_code == 404


async def test_memory_is_held_resident_and_released(make_kit):
    kit = make_kit(settings=Settings(drills=True))
    async with kit.client() as client:
        before = resident_bytes()
        held = await client.put("/_drill/memory", json={"bytes": 200 * MIB})
        assert held.json() == {"held_bytes": 200 * MIB}
        assert resident_bytes() - before > 180 * MIB

        released = await client.delete("/_drill/memory")
        assert released.json() == {"held_bytes": 0}
        assert resident_bytes() - before < 20 * MIB


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_body"),
        (b'{"size": 1}', "invalid_body"),
        (b'{"bytes": -1}', "invalid_bytes"),
        (b'{"bytes": 1.5}', "invalid_bytes"),
        (b'{"bytes": 99999999999999}', "invalid_bytes"),
    ],
)
async def test_a_bad_request_gets_a_422_that_says_what_to_send(make_kit, body, error):
    kit = make_kit(settings=Settings(drills=True))
    async with kit.client() as client:
        answer = await client.put("/_drill/memory", content=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == error
    assert "bytes" in answer.json()["message"]


async def _timed_get(client, path: str) -> float:
    began = time.perf_counter()
    answer = await client.get(path)
    assert answer.status_code in (200, 404)
    return time.perf_counter() - began


async def test_the_cpu_switch_burns_its_ms_on_every_request_but_the_probes_until_deleted(make_kit):
    kit = make_kit(settings=Settings(drills=True))
    async with kit.client() as client:
        assert await _timed_get(client, "/items/1") < 0.05
        on = await client.put("/_drill/cpu", json={"ms_per_request": 80})
        assert on.json() == {"ms_per_request": 80}
        assert await _timed_get(client, "/items/1") >= 0.08
        assert await _timed_get(client, "/no-such-route") >= 0.08  # every request of the service
        assert await _timed_get(client, "/health/live") < 0.05  # a probe is not the service's work
        assert await _timed_get(client, "/metrics") < 0.05

        off = await client.delete("/_drill/cpu")
        assert off.json() == {"ms_per_request": 0}
        assert await _timed_get(client, "/items/1") < 0.05
    # The request's own duration carries the burn: what HighLatency reads.
    assert (
        kit.sample(
            "http_server_request_duration_seconds_count", method="GET", route="/items/{item_id}", status="200"
        )
        == 3
    )
    assert "drill: cpu burned on every request" in kit.logs.text


def test_the_burn_spins_in_burn_cpu_for_the_time_asked():
    began = time.perf_counter()
    burn_cpu(30)
    assert 0.03 <= time.perf_counter() - began < 0.1


async def test_without_the_switch_there_is_no_cpu_route(kit):
    async with kit.client() as client:
        assert (await client.put("/_drill/cpu", json={"ms_per_request": 5})).status_code == 404


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_body"),
        (b'{"ms": 1}', "invalid_body"),
        (b'{"ms_per_request": 0}', "invalid_ms_per_request"),
        (b'{"ms_per_request": 1001}', "invalid_ms_per_request"),
        (b'{"ms_per_request": true}', "invalid_ms_per_request"),
        (b'{"ms_per_request": "5"}', "invalid_ms_per_request"),
    ],
)
async def test_a_bad_cpu_request_gets_a_422_that_says_what_to_send(make_kit, body, error):
    kit = make_kit(settings=Settings(drills=True))
    async with kit.client() as client:
        answer = await client.put("/_drill/cpu", content=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == error
    assert "ms_per_request" in answer.json()["message"]
