"""The vendored uPlot in static/vendor/ matches the lockfile (the staleness check `make test` runs),
and each way of drifting is reported with the command that fixes it."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from airscope.console import vendor
from airscope.errors import AirscopeError


def test_committed_vendor_files_match_the_lockfile():
    vendor.check()


@pytest.fixture
def copy(tmp_path: Path) -> tuple[Path, Path]:
    web, out = tmp_path / "web", tmp_path / "vendor"
    shutil.copytree(vendor.WEB, web)
    shutil.copytree(vendor.VENDOR, out)
    vendor.check(web, out)
    return web, out


def stale_message(web: Path, out: Path) -> str:
    with pytest.raises(vendor.VendorError) as e:
        vendor.check(web, out)
    assert "airscope console vendor" in str(e.value)
    return str(e.value)


def test_a_tampered_file_is_reported(copy):
    web, out = copy
    with (out / "uPlot.esm.js").open("a") as f:
        f.write("\n// edited by hand\n")
    assert "uPlot.esm.js differs" in stale_message(web, out)


def test_a_missing_file_and_an_extra_file_are_reported(copy):
    web, out = copy
    (out / "LICENSE").unlink()
    (out / "uPlot.iife.min.js").write_text("")
    message = stale_message(web, out)
    assert "LICENSE is missing" in message
    assert "uPlot.iife.min.js in" in message


def test_a_new_lockfile_makes_the_files_stale(copy):
    web, out = copy
    lock = json.loads((web / "package-lock.json").read_text())
    lock["packages"]["node_modules/uplot"]["version"] = "1.6.99"
    lock["packages"]["node_modules/uplot"]["integrity"] = "sha512-other"
    (web / "package-lock.json").write_text(json.dumps(lock, indent=2))
    message = stale_message(web, out)
    assert "MANIFEST.json has version '1.6.32', the lockfile '1.6.99'" in message
    assert "package.json asks for uplot '1.6.32'" in message


def test_a_range_instead_of_a_pin_is_reported(copy):
    web, out = copy
    package = json.loads((web / "package.json").read_text())
    package["dependencies"]["uplot"] = "^" + package["dependencies"]["uplot"]
    (web / "package.json").write_text(json.dumps(package))
    assert "pin the exact version" in stale_message(web, out)


def test_vendor_without_npm_names_the_debian_package(copy, monkeypatch):
    web, out = copy
    monkeypatch.setenv("PATH", "")
    with pytest.raises(AirscopeError, match="Debian's package `npm`"):
        vendor.vendor(web, out)


def fake_npm(tmp_path: Path, source: Path) -> str:
    """An `npm` that lays out the package from already-vendored files: vendor() runs offline."""
    script = tmp_path / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'test "$1" = ci || exit 2\n'
        "mkdir -p node_modules/uplot/dist\n"
        f"cp {source}/uPlot.esm.js {source}/uPlot.min.css node_modules/uplot/dist/\n"
        f"cp {source}/LICENSE node_modules/uplot/\n"
        'echo \'{"name": "uplot", "version": "1.6.32"}\' > node_modules/uplot/package.json\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_vendor_writes_files_and_a_manifest_that_check_accepts(copy, tmp_path):
    web, out = copy
    source = tmp_path / "source"
    shutil.copytree(out, source)
    shutil.rmtree(out)
    (tmp_path / "bin").mkdir()
    manifest = vendor.vendor(web, out, npm=fake_npm(tmp_path / "bin", source))
    assert manifest["version"] == "1.6.32"
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
