"""The frontend's third-party browser code, Grafana's Faro Web SDK and its tracing, vendored from npm.

``web/package.json`` pins the exact versions and ``web/package-lock.json`` their integrity hashes;
``vendor()`` installs from that lockfile (``npm ci``, scripts off) in a temporary directory and copies
the prebuilt browser bundles into ``static/vendor/`` with a ``MANIFEST.json`` of their hashes. No
bundler is needed: each package ships ``dist/bundle/*.iife.js``, a plain script that defines one global
(``GrafanaFaroWebSdk``, then ``GrafanaFaroWebTracing``, which reads the first), and the files are
copied byte for byte. They are committed so the page needs no Node and no CDN at run time;
``check()`` (offline, run by ``make test``) says when they no longer match the lockfile.

The mechanism is ``airscope.npm_vendor``'s, shared with the console's uPlot; the packages, files and
manifest are this module's. Run with ``python -m airscope.services.frontend.vendor``.

The bundles' source maps are not vendored: they are 1.1 MB, only developer tools ask for them (the
bundles' last line names them; the request is a 404), and the stack frames that matter are app.js's.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from airscope.npm_vendor import VendorError, file_problems, find_npm, npm_ci, replace_files, sha256

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

__all__ = ["VendorError", "check", "locked", "main", "problems", "vendor"]


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
    return {"packages": packages, "lockfileSha256": sha256(web / "package-lock.json")}


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
    found += file_problems(out, FILES, manifest.get("files", {}), MANIFEST)
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
    npm = find_npm(npm, FIX.removeprefix("run "))
    lock = locked(web)
    with tempfile.TemporaryDirectory(prefix="airscope-vendor-") as tmp:
        modules = npm_ci(web, Path(tmp), npm)
        for name, entry in lock["packages"].items():
            installed = json.loads((modules / name / "package.json").read_text())
            if installed.get("version") != entry["version"]:
                raise VendorError(
                    f"npm installed {name} {installed.get('version')}, the lockfile pins {entry['version']}"
                )
        sources = {name: modules / package / source for name, (package, source) in FILES.items()}
        hashes = replace_files(out, sources, MANIFEST)
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
