"""The console's one piece of third-party browser code, uPlot, vendored from the npm registry.

``web/package.json`` pins the exact version and ``web/package-lock.json`` its integrity hash;
``vendor()`` installs from that lockfile (``npm ci``, scripts off) in a temporary directory and copies
the few files the browser loads into ``static/vendor/`` with a ``MANIFEST.json`` of their hashes.
The outputs are committed so the console works offline with no Node at run time; ``check()``
(offline, run by ``make test``) says when they no longer match the lockfile, and how to regenerate.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from airscope.errors import AirscopeError

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
NPM_TIMEOUT_S = 300


class VendorError(AirscopeError):
    """The vendored files cannot be made, or no longer match the lockfile."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
        "lockfileSha256": _sha256(web / "package-lock.json"),
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
    hashes = manifest.get("files", {})
    if sorted(hashes) != sorted(FILES):
        found.append(f"MANIFEST.json lists {sorted(hashes)}, expected {sorted(FILES)}")
    for name in FILES:
        path = out / name
        if not path.is_file():
            found.append(f"{name} is missing from {out}")
        elif _sha256(path) != hashes.get(name):
            found.append(f"{name} differs from the sha256 in MANIFEST.json (edited or stale)")
    for path in sorted(out.iterdir()) if out.is_dir() else ():
        if path.name not in FILES and path.name != MANIFEST:
            found.append(f"{path.name} in {out} is not a vendored file (remove it)")
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
    npm = npm or shutil.which("npm")
    if npm is None:
        raise VendorError(
            "npm is not installed: install Debian's package `npm` (sudo apt-get install npm),"
            " then run `airscope console vendor` again"
        )
    lock = locked(web)
    with tempfile.TemporaryDirectory(prefix="airscope-vendor-") as tmp:
        work = Path(tmp)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(web / name, work / name)
        env = {**os.environ, "npm_config_update_notifier": "false"}
        try:
            done = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise VendorError(f"`npm ci` could not run: {e}") from e
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise VendorError(
                f"`npm ci` failed (exit {done.returncode}); is the npm registry reachable?\n{tail}"
            )
        installed = work / "node_modules" / PACKAGE
        version = json.loads((installed / "package.json").read_text()).get("version")
        if version != lock["version"]:
            raise VendorError(f"npm installed {PACKAGE} {version}, the lockfile pins {lock['version']}")
        out.mkdir(parents=True, exist_ok=True)
        for path in out.iterdir():
            if path.name not in FILES and path.name != MANIFEST and path.is_file():
                path.unlink()
        hashes = {}
        for name, source in FILES.items():
            shutil.copyfile(installed / source, out / name)
            hashes[name] = _sha256(out / name)
    manifest = {
        "package": PACKAGE,
        "version": lock["version"],
        "integrity": lock["integrity"],
        "lockfileSha256": lock["lockfileSha256"],
        "files": hashes,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
