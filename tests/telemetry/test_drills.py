"""The drill switches: off by default, refused in production, and holding real resident memory."""

from __future__ import annotations

import psutil
import pytest

from airscope.telemetry import Settings

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
