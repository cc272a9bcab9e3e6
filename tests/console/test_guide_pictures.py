"""docs/guide.md shows every generated dashboard as the local console draws it: a dashboard added
to the generator without its picture (``airscope console screenshots``), or a picture left behind
by a removed one, fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_guide_pictures_every_dashboard_and_nothing_else():
    uids = {
        json.loads(path.read_text())["uid"] for path in (ROOT / "deploy/grafana/dashboards").glob("*.json")
    }
    guide = (ROOT / "docs/guide.md").read_text()
    shown = set(re.findall(r"\(images/console-([\w-]+)\.png\)", guide))
    on_disk = {path.stem.removeprefix("console-") for path in (ROOT / "docs/images").glob("console-*.png")}
    assert shown == uids, "run `airscope console screenshots` and show each image in docs/guide.md"
    assert on_disk == uids, "run `airscope console screenshots`; delete pictures of removed dashboards"
