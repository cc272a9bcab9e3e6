"""The frontend's third-party browser code, Grafana's Faro Web SDK and its tracing, vendored from npm.

``web/package.json`` pins the exact versions and ``web/package-lock.json`` their integrity hashes;
``vendor()`` installs from that lockfile (``npm ci``, scripts off) in a temporary directory and copies
the prebuilt browser bundles into ``static/vendor/`` with a ``MANIFEST.json`` of their hashes. No
bundler is needed: each package ships ``dist/bundle/*.iife.js``, a plain script that defines one global
(``GrafanaFaroWebSdk``, then ``GrafanaFaroWebTracing``, which reads the first), and the files are
copied byte for byte. They are committed so the page needs no Node and no CDN at run time;
``check()`` (offline, run by ``make test``) says when they no longer match the lockfile.

The same mechanism as ``airscope.console.vendor`` (uPlot), kept here because the console is a layer
above the services (``[tool.importlinter]`` in pyproject.toml): a service cannot import it. Run with
``python -m airscope.services.frontend.vendor``.

The bundles' source maps are not vendored: they are 1.1 MB, only developer tools ask for them (the
bundles' last line names them; the request is a 404), and the stack frames that matter are app.js's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from airscope.errors import AirscopeError

HERE = Path(__file__).parent
WEB = HERE / "web"
VENDOR = HERE / "static" / "vendor"
SDK = "@grafana/faro-web-sdk"
TRACING = "@grafana/faro-web-tracing"
PACKAGES = (SDK, TRACING)
# The vendored name -> (the npm package, the path inside it).
FILES = {
    "faro-web-sdk.iife.js": (SDK, "dist/bundle/faro-web-sdk.iife.js"),
    "faro-web-tracing.iife.js": (TRACING, "dist/bundle/faro-web-tracing.iife.js"),
    "LICENSE": (SDK, "LICENSE"),  # both packages: Apache-2.0, the same text
}
MANIFEST = "MANIFEST.json"
FIX = (
    "run `.venv/bin/python -m airscope.services.frontend.vendor` (needs npm and the npm registry)"
    " and commit static/vendor/"
)
NPM_TIMEOUT_S = 300


class VendorError(AirscopeError):
    """The vendored files cannot be made, or no longer match the lockfile."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked(web: Path = WEB) -> dict:
    """Each package's pinned version and its locked version and integrity, and the lockfile's hash."""
    try:
        package = json.loads((web / "package.json").read_text())
        lock = json.loads((web / "package-lock.json").read_text())
    except (OSError, ValueError) as e:
        raise VendorError(f"cannot read the frontend's npm files in {web}: {e}") from e
    packages = {}
    for name in PACKAGES:
        entry = lock.get("packages", {}).get(f"node_modules/{name}", {})
        packages[name] = {
            "pinned": package.get("dependencies", {}).get(name),
            "version": entry.get("version"),
            "integrity": entry.get("integrity"),
        }
    return {"packages": packages, "lockfileSha256": _sha256(web / "package-lock.json")}


def problems(web: Path = WEB, out: Path = VENDOR) -> list[str]:
    """What disagrees between the lockfile, the manifest and the vendored files (empty: all agree).

    Offline: reads only files in the repository."""
    lock = locked(web)
    found: list[str] = []
    for name, entry in lock["packages"].items():
        if not entry["version"] or not entry["integrity"]:
            found.append(f"package-lock.json has no {name} entry with a version and an integrity")
        # An exact pin, so `npm install --package-lock-only` never moves to a newer release silently.
        if entry["pinned"] != entry["version"]:
            found.append(
                f"package.json asks for {name} {entry['pinned']!r} but the lockfile holds"
                f" {entry['version']!r} (pin the exact version in both)"
            )
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return [*found, f"{out / MANIFEST} is missing or unreadable ({e})"]
    recorded = manifest.get("packages", {})
    for name, entry in lock["packages"].items():
        for key in ("version", "integrity"):
            if recorded.get(name, {}).get(key) != entry[key]:
                found.append(
                    f"MANIFEST.json has {name} {key} {recorded.get(name, {}).get(key)!r},"
                    f" the lockfile {entry[key]!r}"
                )
    if manifest.get("lockfileSha256") != lock["lockfileSha256"]:
        found.append("MANIFEST.json was made from another package-lock.json (lockfileSha256 differs)")
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
        raise VendorError(f"the frontend's vendored Faro Web SDK is stale:\n{lines}\n{FIX}")


def vendor(web: Path = WEB, out: Path = VENDOR, npm: str | None = None) -> dict:
    """Install the locked packages with npm in a temporary directory and copy their files to ``out``.

    Returns the manifest written. Scripts never run (`--ignore-scripts`): only files are taken."""
    npm = npm or shutil.which("npm")
    if npm is None:
        raise VendorError(
            "npm is not installed: install Debian's package `npm` (sudo apt-get install npm), then "
            + FIX.removeprefix("run ")
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
        for name, entry in lock["packages"].items():
            installed = json.loads((work / "node_modules" / name / "package.json").read_text())
            if installed.get("version") != entry["version"]:
                raise VendorError(
                    f"npm installed {name} {installed.get('version')}, the lockfile pins {entry['version']}"
                )
        out.mkdir(parents=True, exist_ok=True)
        for path in out.iterdir():
            if path.name not in FILES and path.name != MANIFEST and path.is_file():
                path.unlink()
        hashes = {}
        for name, (package, source) in FILES.items():
            shutil.copyfile(work / "node_modules" / package / source, out / name)
            hashes[name] = _sha256(out / name)
    manifest = {
        "packages": {
            name: {"version": entry["version"], "integrity": entry["integrity"]}
            for name, entry in lock["packages"].items()
        },
        "lockfileSha256": lock["lockfileSha256"],
        "files": hashes,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main() -> int:
    try:
        manifest = vendor()
    except VendorError as e:
        print(e, file=sys.stderr)
        return 1
    for name, entry in sorted(manifest["packages"].items()):
        print(f"vendored {name} {entry['version']} into {VENDOR}")
    for name, digest in sorted(manifest["files"].items()):
        print(f"  {name}  sha256:{digest[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
