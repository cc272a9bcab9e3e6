"""The dashboards the console shows: the JSON files production Grafana provisions, read as they are.

No second definition: ``deploy/grafana/dashboards/*.json`` (written by ``airscope gen``) is read on each
request whose file changed since the last read, so a regenerated dashboard shows at the next reload.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airscope.errors import AirscopeError


class DashboardError(AirscopeError):
    """A dashboard or panel that is not there, or a dashboard file that is not Grafana's JSON."""


class DashboardNotFound(DashboardError):
    pass


class PanelNotFound(DashboardError):
    pass


def slugify(title: str) -> str:
    """Grafana's slug of a title (``airscope / Overview`` -> ``airscope-overview``): lower case ASCII
    letters and digits, every other run of characters one hyphen, none at either end."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def walk_panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every panel, rows' nested panels included (a collapsed row keeps its panels inside it)."""
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    tags: tuple[str, ...]
    path: Path
    json: Mapping[str, Any]

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def url(self) -> str:
        return f"/d/{self.uid}/{self.slug}"

    def panels(self) -> list[Mapping[str, Any]]:
        """The panels that show something (rows left out)."""
        return [p for p in walk_panels(self.json.get("panels") or []) if p.get("type") != "row"]

    def panel(self, panel_id: int) -> Mapping[str, Any]:
        for panel in walk_panels(self.json.get("panels") or []):
            if panel.get("id") == panel_id and panel.get("type") != "row":
                return panel
        ids = ", ".join(str(p.get("id")) for p in self.panels())
        raise PanelNotFound(f"dashboard {self.uid} has no panel {panel_id}: its panels are {ids}")


class Dashboards:
    """The dashboards of one directory, reloaded when a file changes (by modification time and size)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int], Dashboard]] = {}

    def all(self) -> list[Dashboard]:
        """Every dashboard, by title."""
        if not self.directory.is_dir():
            raise DashboardError(
                f"no dashboards directory at {self.directory}: run `airscope gen` in the checkout to write them"
            )
        found = []
        with self._lock:
            files = sorted(self.directory.glob("*.json"))
            for path in files:
                found.append(self._load(path))
            for gone in set(self._cache) - set(files):
                del self._cache[gone]
        return sorted(found, key=lambda d: (d.title.lower(), d.uid))

    def get(self, uid: str) -> Dashboard:
        dashboards = self.all()
        for dashboard in dashboards:
            if dashboard.uid == uid:
                return dashboard
        known = ", ".join(sorted(d.uid for d in dashboards)) or "none"
        raise DashboardNotFound(
            f"no dashboard with uid {uid}: the dashboards in {self.directory} are {known}; "
            "open /dashboards for the list"
        )

    def _load(self, path: Path) -> Dashboard:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DashboardError(
                f"dashboard file {path} is not JSON ({exc}): run `airscope gen` again"
            ) from exc
        if not isinstance(data, dict) or not data.get("uid"):
            raise DashboardError(f"dashboard file {path} has no uid: run `airscope gen` again")
        dashboard = Dashboard(
            uid=str(data["uid"]),
            title=str(data.get("title") or data["uid"]),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            path=path,
            json=data,
        )
        self._cache[path] = (key, dashboard)
        return dashboard
