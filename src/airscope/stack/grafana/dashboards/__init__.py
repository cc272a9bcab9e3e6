"""Every dashboard, and the provider that loads them into Grafana's "airscope" folder.

Dashboards are files only: provisioned read-only (no UI saves, no deletes), so what Grafana shows
is always what ``airscope gen`` wrote.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from airscope.catalog import Catalog
from airscope.stack import _yaml
from airscope.stack.grafana.dashboards import business, containers, logs, overview, service, slo

DIRECTORY = "deploy/grafana/dashboards"
PROVIDER_PATH = "deploy/grafana/provisioning/dashboards/dashboards.yml"
# Where the compose file mounts DIRECTORY inside the Grafana container.
MOUNT = "/var/lib/grafana/dashboards"
FOLDER = "airscope"


def build_all(catalog: Catalog) -> list[dashboard.Dashboard]:
    return [
        overview.build(catalog),
        service.build(catalog),
        slo.build(catalog),
        logs.build(catalog),
        *business.build_all(),
        containers.build(),
    ]


def provider() -> dict[str, str]:
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": FOLDER,
                "orgId": 1,
                "folder": FOLDER,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": MOUNT, "foldersFromFilesStructure": False},
            }
        ],
    }
    return {PROVIDER_PATH: _yaml.dump(document, header=_yaml.header("grafana/dashboards/__init__.py"))}
