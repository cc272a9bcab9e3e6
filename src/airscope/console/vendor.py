"""The console's one piece of third-party browser code, uPlot, vendored from the npm registry.

``web/package.json`` pins the exact version and ``web/package-lock.json`` its integrity hash;
``vendor()`` installs from that lockfile (``npm ci``, scripts off) in a temporary directory and copies
the few files the browser loads into ``static/vendor/`` with a ``MANIFEST.json`` of their hashes.
The outputs are committed so the console works offline with no Node at run time; ``check()``
(offline, run by ``make test``) says when they no longer match the lockfile, and how to regenerate.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from airscope.npm_vendor import VendorError, file_problems, find_npm, npm_ci, replace_files, sha256

HERE = Path(__file__).parent
WEB = HERE / "web"
VENDOR = HERE / "static" / "vendor"
PACKAGE = "uplot"
# The vendored name -> its path inside the npm package. The ES module build, because the console's
# pages are ES modules with no bundler: panels/timeseries.js imports it, so the panel module is ready
# only with uPlot loaded and draws at once (no global, no script tag to order in index.html).
FILES = {
    "uPlot.esm.js": "dist/uPlot.esm.js",
    "uPlot.min.css": "dist/uPlot.min.css",
    "LICENSE": "LICENSE",
}
MANIFEST = "MANIFEST.json"
FIX = "run `airscope console vendor` (needs npm and the npm registry) and commit static/vendor/"

__all__ = ["VendorError", "check", "locked", "problems", "vendor"]


def locked(web: Path = WEB) -> dict:
    """The package's pinned version and integrity, from package.json and package-lock.json."""
    try:
        package = json.loads((web / "package.json").read_text())
        lock = json.loads((web / "package-lock.json").read_text())
    except (OSError, ValueError) as e:
        raise VendorError(f"cannot read the console's npm files in {web}: {e}") from e
    wanted = package.get("dependencies", {}).get(PACKAGE)
    entry = lock.get("packages", {}).get(f"node_modules/{PACKAGE}", {})
    return {
        "package": PACKAGE,
        "pinned": wanted,
        "version": entry.get("version"),
        "integrity": entry.get("integrity"),
        "lockfileSha256": sha256(web / "package-lock.json"),
    }


def problems(web: Path = WEB, out: Path = VENDOR) -> list[str]:
    """What disagrees between the lockfile, the manifest and the vendored files (empty: all agree).

    Offline: reads only files in the repository."""
    lock = locked(web)
    found: list[str] = []
    if not lock["version"] or not lock["integrity"]:
        found.append(f"package-lock.json has no {PACKAGE} entry with a version and an integrity")
    # An exact pin, so `npm install --package-lock-only` never moves to a newer release silently.
    if lock["pinned"] != lock["version"]:
        found.append(
            f"package.json asks for {PACKAGE} {lock['pinned']!r} but the lockfile holds"
            f" {lock['version']!r} (pin the exact version in both)"
        )
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return [*found, f"{out / MANIFEST} is missing or unreadable ({e})"]
    for key in ("package", "version", "integrity", "lockfileSha256"):
        if manifest.get(key) != lock[key]:
            found.append(f"MANIFEST.json has {key} {manifest.get(key)!r}, the lockfile {lock[key]!r}")
    found += file_problems(out, FILES, manifest.get("files", {}), MANIFEST)
    return found


def check(web: Path = WEB, out: Path = VENDOR) -> None:
    """Raise VendorError naming each disagreement and the fix; return quietly when all agree."""
    found = problems(web, out)
    if found:
        lines = "\n".join(f"  - {p}" for p in found)
        raise VendorError(f"the console's vendored uPlot is stale:\n{lines}\n{FIX}")


def vendor(web: Path = WEB, out: Path = VENDOR, npm: str | None = None) -> dict:
    """Install the locked package with npm in a temporary directory and copy its files to ``out``.

    Returns the manifest written. Scripts never run (`--ignore-scripts`): only files are taken."""
    npm = find_npm(npm, "run `airscope console vendor` again")
    lock = locked(web)
    with tempfile.TemporaryDirectory(prefix="airscope-vendor-") as tmp:
        installed = npm_ci(web, Path(tmp), npm) / PACKAGE
        version = json.loads((installed / "package.json").read_text()).get("version")
        if version != lock["version"]:
            raise VendorError(f"npm installed {PACKAGE} {version}, the lockfile pins {lock['version']}")
        hashes = replace_files(out, {name: installed / source for name, source in FILES.items()}, MANIFEST)
    manifest = {
        "package": PACKAGE,
        "version": lock["version"],
        "integrity": lock["integrity"],
        "lockfileSha256": lock["lockfileSha256"],
        "files": hashes,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
