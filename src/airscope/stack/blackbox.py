"""blackbox.yml: the blackbox exporter's probe modules, for compose's exporter and local mode's.

Prometheus' blackbox job probes each service's health endpoint with ``HEALTH_JSON``.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/blackbox/blackbox.yml"

# Any 2xx, and a health+json answer whose status is pass or warn.
HTTP_2XX = settings.BLACKBOX_MODULE
HEALTH_JSON = "http_health_json"


def modules() -> dict:
    # Docker's networks are IPv4: skip the IPv6 attempt the exporter makes first by default.
    ip4 = {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False}
    return {
        "modules": {
            HTTP_2XX: {"prober": "http", "timeout": "5s", "http": ip4},
            HEALTH_JSON: {
                "prober": "http",
                "timeout": "5s",
                "http": {
                    **ip4,
                    "headers": {"Accept": "application/health+json"},
                    "valid_status_codes": [200],
                    # 200 comes with pass and warn alike; a body that says neither is a failure too.
                    "fail_if_body_not_matches_regexp": ['"status"\\s*:\\s*"(pass|warn)"'],
                },
            },
        }
    }


def render() -> str:
    return _yaml.dump(modules(), _yaml.header("blackbox.py"))


def generate(catalog: Catalog) -> dict[str, str]:
    return {PATH: render()}
