"""docs/guide.md shows every generated dashboard as the local console draws it: a dashboard added
to the generator without its picture (``airscope console screenshots``), or a picture left behind
by a removed one, fails here. The console's pages that are not dashboards have a picture each too,
named here with how it is made."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# console-<name>.png of a page that is no dashboard -> how the picture is made.
PAGES = {
    "profiles": "AIRSCOPE_TEST_WRITE_SCREENSHOT=1 .venv/bin/pytest tests/console/test_profiles_page.py",
}


def test_the_guide_pictures_every_dashboard_and_nothing_else():
    uids = {
        json.loads(path.read_text())["uid"] for path in (ROOT / "deploy/grafana/dashboards").glob("*.json")
    }
    assert not uids & set(PAGES), "a dashboard uid and a page's picture would share a file"
    guide = (ROOT / "docs/guide.md").read_text()
    shown = set(re.findall(r"\(images/console-([\w-]+)\.png\)", guide))
    on_disk = {path.stem.removeprefix("console-") for path in (ROOT / "docs/images").glob("console-*.png")}
    assert shown - set(PAGES) == uids, (
        "run `airscope console screenshots` and show each image in docs/guide.md"
    )
    assert on_disk - set(PAGES) == uids, (
        "run `airscope console screenshots`; delete pictures of removed dashboards"
    )
    for page, how in PAGES.items():
        assert page in shown and page in on_disk, f"docs/guide.md shows console-{page}.png, made by `{how}`"
