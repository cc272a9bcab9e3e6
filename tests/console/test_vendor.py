"""The vendored uPlot (static/vendor/) and speedscope (static/speedscope/) match the lockfile (the
staleness check `make test` runs), and each way of drifting is reported with the command that fixes it."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from airscope.console import vendor
from airscope.errors import AirscopeError


def test_committed_vendor_files_match_the_lockfile():
    vendor.check()


def test_speedscope_vendors_every_file_its_page_loads():
    """Every file index.html, its stylesheet and its script name by a relative URL is vendored; so
    the page needs nothing from elsewhere."""
    out = vendor.STATIC / vendor.SPEEDSCOPE.directory
    page = (out / "index.html").read_text()
    named = set(re.findall(r'(?:href|src)="([^":/]+)"', page))
    named |= set(re.findall(r'url\("\./([^"]+)"\)', (out / "speedscope-GHPHNKXC.css").read_text()))
    named |= set(re.findall(r'"\./([\w.-]+\.wasm)"', (out / "speedscope-Y2522XSH.js").read_text()))
    assert named, "index.html names no file: has speedscope's release changed its layout?"
    assert named <= set(vendor.SPEEDSCOPE.files), f"not vendored: {named - set(vendor.SPEEDSCOPE.files)}"
    assert any(name.endswith(".wasm") for name in named)


@pytest.fixture
def copy(tmp_path: Path) -> tuple[Path, Path]:
    web, static = tmp_path / "web", tmp_path / "static"
    shutil.copytree(vendor.WEB, web)
    for bundle in vendor.BUNDLES:
        shutil.copytree(vendor.STATIC / bundle.directory, static / bundle.directory)
    vendor.check(web, static)
    return web, static


def stale_message(web: Path, static: Path) -> str:
    with pytest.raises(vendor.VendorError) as e:
        vendor.check(web, static)
    assert "airscope console vendor" in str(e.value)
    return str(e.value)


def test_a_tampered_file_is_reported(copy):
    web, static = copy
    with (static / "vendor" / "uPlot.esm.js").open("a") as f:
        f.write("\n// edited by hand\n")
    with (static / "speedscope" / "index.html").open("a") as f:
        f.write('<script src="https://cdn.example/x.js"></script>\n')
    message = stale_message(web, static)
    assert "uPlot.esm.js differs" in message
    assert "index.html differs" in message


def test_a_missing_file_and_an_extra_file_are_reported(copy):
    web, static = copy
    (static / "vendor" / "LICENSE").unlink()
    (static / "vendor" / "uPlot.iife.min.js").write_text("")
    (static / "speedscope" / "jfrview_bg-BLJXNNQB.wasm").unlink()
    message = stale_message(web, static)
    assert "LICENSE is missing" in message
    assert "uPlot.iife.min.js in" in message
    assert "jfrview_bg-BLJXNNQB.wasm is missing" in message


def test_a_new_lockfile_makes_the_files_stale(copy):
    web, static = copy
    lock = json.loads((web / "package-lock.json").read_text())
    lock["packages"]["node_modules/speedscope"]["version"] = "1.99.0"
    lock["packages"]["node_modules/speedscope"]["integrity"] = "sha512-other"
    (web / "package-lock.json").write_text(json.dumps(lock, indent=2))
    message = stale_message(web, static)
    assert "speedscope/MANIFEST.json has version '1.25.0', the lockfile '1.99.0'" in message
    assert "package.json asks for speedscope '1.25.0'" in message
    # uPlot's files are the same, but they were vendored from another lockfile.
    assert "vendor/MANIFEST.json has lockfileSha256" in message


def test_a_range_instead_of_a_pin_is_reported(copy):
    web, static = copy
    package = json.loads((web / "package.json").read_text())
    package["dependencies"]["uplot"] = "^" + package["dependencies"]["uplot"]
    (web / "package.json").write_text(json.dumps(package))
    assert "pin the exact version" in stale_message(web, static)


def test_vendor_without_npm_names_the_debian_package(copy, monkeypatch):
    web, static = copy
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AirscopeError, match="Debian's package `npm`"):
        vendor.vendor(web, static)


def fake_npm(tmp_path: Path, source: Path, speedscope_version: str = "1.25.0") -> str:
    """An `npm` that lays out both packages from already-vendored files: vendor() runs offline."""
    lines = ["#!/bin/sh", 'test "$1" = ci || exit 2']
    for bundle in vendor.BUNDLES:
        version = "1.6.32" if bundle is vendor.UPLOT else speedscope_version
        root = f"node_modules/{bundle.package}"
        for name, inside in bundle.files.items():
            lines.append(f"mkdir -p {root}/{Path(inside).parent}")
            lines.append(f"cp {source / bundle.directory / name} {root}/{inside}")
        lines.append(f'echo \'{{"name": "{bundle.package}", "version": "{version}"}}\' > {root}/package.json')
    script = tmp_path / "npm"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_vendor_writes_files_and_manifests_that_check_accepts(copy, tmp_path):
    web, static = copy
    source = tmp_path / "source"
    shutil.copytree(static, source)
    shutil.rmtree(static)
    (tmp_path / "bin").mkdir()
    done = vendor.vendor(web, static, npm=fake_npm(tmp_path / "bin", source))
    assert done["package"] == "uplot, speedscope"
    assert done["manifests"]["speedscope"]["version"] == "1.25.0"
    assert "speedscope/index.html" in done["files"]
    for bundle in vendor.BUNDLES:
        out = static / bundle.directory
        assert sorted(p.name for p in out.iterdir()) == sorted([*bundle.files, vendor.MANIFEST])
    vendor.check(web, static)


def test_a_wrong_install_changes_no_directory(copy, tmp_path):
    web, static = copy
    (tmp_path / "bin").mkdir()
    npm = fake_npm(tmp_path / "bin", static, speedscope_version="1.24.0")
    with pytest.raises(
        vendor.VendorError, match=r"npm installed speedscope 1\.24\.0, the lockfile pins 1\.25\.0"
    ):
        vendor.vendor(web, static, npm=npm)
    vendor.check(web, static)


def test_a_failing_npm_is_reported_with_its_output(copy, tmp_path):
    web, static = copy
    script = tmp_path / "npm"
    script.write_text("#!/bin/sh\necho 'ENOTFOUND registry.npmjs.org' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(vendor.VendorError, match="ENOTFOUND"):
        vendor.vendor(web, static, npm=str(script))
    vendor.check(web, static)  # a failed run leaves the committed files as they were
