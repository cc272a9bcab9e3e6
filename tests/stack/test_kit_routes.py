"""Every route the telemetry kit serves itself (probes, scrapes, the local switches) is left out of the
service-level rules (settings.KIT_ROUTES): a memory profile's call lasting its whole window must not
count as a slow request of the service, nor a drill's switch as its traffic."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from airscope.stack import settings
from airscope.telemetry._health import HealthMonitor
from airscope.telemetry._instrument import _probes
from airscope.telemetry._settings import Settings


def test_every_route_the_kit_serves_is_left_out_of_the_service_level_rules():
    registry = CollectorRegistry()
    every_switch_on = Settings(drills=True, profile_switch=True)
    served = _probes("mcp-server", "1.0", every_switch_on, registry, HealthMonitor([], registry=registry))
    assert "/_profile/memory" in served and "/_drill/cpu" in served  # the switches are counted here
    assert set(served) == set(settings.KIT_ROUTES)
