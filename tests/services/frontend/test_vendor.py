"""The vendored Faro Web SDK in static/vendor/ matches the lockfile (the staleness check `make test`
runs), each way of drifting is reported with the command that fixes it, and the page loads exactly
the vendored bundles (nothing from a CDN)."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from airscope.errors import AirscopeError
from airscope.services.frontend import vendor

STATIC = vendor.HERE / "static"


def test_committed_vendor_files_match_the_lockfile():
    vendor.check()


def test_the_page_loads_only_its_own_files_and_the_vendored_bundles():
    page = (STATIC / "index.html").read_text()
    sources = re.findall(r'<script[^>]* src="([^"]+)"', page) + re.findall(r'<link[^>]* href="([^"]+)"', page)
    assert all(source.startswith("/static/") or source == "data:," for source in sources), sources
    vendored = {source.removeprefix("/static/vendor/") for source in sources if "/vendor/" in source}
    assert vendored == {name for name in vendor.FILES if name.endswith(".js")}


@pytest.fixture
def copy(tmp_path: Path) -> tuple[Path, Path]:
    web, out = tmp_path / "web", tmp_path / "vendor"
    shutil.copytree(vendor.WEB, web, ignore=shutil.ignore_patterns("node_modules"))
    shutil.copytree(vendor.VENDOR, out)
    vendor.check(web, out)
    return web, out


def stale_message(web: Path, out: Path) -> str:
    with pytest.raises(vendor.VendorError) as e:
        vendor.check(web, out)
    assert "python -m airscope.services.frontend.vendor" in str(e.value)
    return str(e.value)


def test_a_tampered_bundle_is_reported(copy):
    web, out = copy
    with (out / "faro-web-sdk.iife.js").open("a") as f:
        f.write("\n// edited by hand\n")
    assert "faro-web-sdk.iife.js differs" in stale_message(web, out)


def test_a_missing_file_and_an_extra_file_are_reported(copy):
    web, out = copy
    (out / "faro-web-tracing.iife.js").unlink()
    (out / "faro-web-sdk.iife.js.map").write_text("{}")
    message = stale_message(web, out)
    assert "faro-web-tracing.iife.js is missing" in message
    assert "faro-web-sdk.iife.js.map in" in message


def test_a_new_lockfile_makes_the_files_stale(copy):
    web, out = copy
    lock = json.loads((web / "package-lock.json").read_text())
    entry = lock["packages"]["node_modules/@grafana/faro-web-tracing"]
    entry["version"], entry["integrity"] = "2.99.0", "sha512-other"
    (web / "package-lock.json").write_text(json.dumps(lock, indent=2))
    message = stale_message(web, out)
    assert "MANIFEST.json has @grafana/faro-web-tracing version '2.12.1', the lockfile '2.99.0'" in message
    assert "package.json asks for @grafana/faro-web-tracing '2.12.1'" in message
    assert "made from another package-lock.json" in message


def test_a_range_instead_of_a_pin_is_reported(copy):
    web, out = copy
    package = json.loads((web / "package.json").read_text())
    package["dependencies"]["@grafana/faro-web-sdk"] = "^" + package["dependencies"]["@grafana/faro-web-sdk"]
    (web / "package.json").write_text(json.dumps(package))
    assert "pin the exact version" in stale_message(web, out)


def test_vendor_without_npm_names_the_debian_package(copy, monkeypatch):
    web, out = copy
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AirscopeError, match="Debian's package `npm`"):
        vendor.vendor(web, out)


def fake_npm(tmp_path: Path, source: Path) -> str:
    """An `npm` that lays out the packages from already-vendored files: vendor() runs offline."""
    lines = ["#!/bin/sh", 'test "$1" = ci || exit 2']
    for package in vendor.PACKAGES:
        lines += [
            f"mkdir -p node_modules/{package}/dist/bundle",
            f'echo \'{{"name": "{package}", "version": "2.12.1"}}\' > node_modules/{package}/package.json',
        ]
    for name, (package, path) in vendor.FILES.items():
        lines.append(f"cp {source}/{name} node_modules/{package}/{path}")
    script = tmp_path / "npm"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_vendor_writes_files_and_a_manifest_that_check_accepts(copy, tmp_path):
    web, out = copy
    source = tmp_path / "source"
    shutil.copytree(out, source)
    shutil.rmtree(out)
    (tmp_path / "bin").mkdir()
    manifest = vendor.vendor(web, out, npm=fake_npm(tmp_path / "bin", source))
    assert {name: entry["version"] for name, entry in manifest["packages"].items()} == dict.fromkeys(
        vendor.PACKAGES, "2.12.1"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([*vendor.FILES, vendor.MANIFEST])
    vendor.check(web, out)


def test_a_failing_npm_is_reported_with_its_output(copy, tmp_path):
    web, out = copy
    script = tmp_path / "npm"
    script.write_text("#!/bin/sh\necho 'ENOTFOUND registry.npmjs.org' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(vendor.VendorError, match="ENOTFOUND"):
        vendor.vendor(web, out, npm=str(script))
    vendor.check(web, out)  # a failed run leaves the committed files as they were
