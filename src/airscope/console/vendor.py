"""The console's third-party browser code, vendored from the npm registry: uPlot (the time series
panels) and speedscope (the CPU profile viewer of ``/profiles/<name>``).

``web/package.json`` pins the exact versions and ``web/package-lock.json`` their integrity hashes;
``vendor()`` installs from that lockfile (``npm ci``, scripts off) in a temporary directory and copies
the files the browser loads into one directory per package under ``static/`` (``vendor/`` for uPlot,
``speedscope/`` for speedscope), each with a ``MANIFEST.json`` of their hashes. The outputs are
committed so the console works offline with no Node at run time; ``check()`` (offline, run by
``make test``) says when they no longer match the lockfile, and how to regenerate.

The mechanism is ``airscope.npm_vendor``'s, shared with the frontend's Faro; one directory per
package because speedscope's page loads its files by relative names, so its release directory is
copied as it is laid out (flat), apart from uPlot's files.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from airscope.npm_vendor import VendorError, file_problems, find_npm, npm_ci, replace_files, sha256

HERE = Path(__file__).parent
WEB = HERE / "web"
STATIC = HERE / "static"
MANIFEST = "MANIFEST.json"
FIX = "run `airscope console vendor` (needs npm and the npm registry) and commit static/vendor/ and static/speedscope/"


@dataclass(frozen=True)
class Bundle:
    package: str
    directory: str  # under static/
    files: dict[str, str]  # the vendored name -> its path inside the npm package


UPLOT = Bundle(
    "uplot",
    "vendor",
    # The ES module build, because the console's pages are ES modules with no bundler:
    # panels/timeseries.js imports it, so the panel module is ready only with uPlot loaded and draws
    # at once (no global, no script tag to order in index.html).
    {
        "uPlot.esm.js": "dist/uPlot.esm.js",
        "uPlot.min.css": "dist/uPlot.min.css",
        "LICENSE": "LICENSE",
    },
)
_RELEASE = "dist/release/"
SPEEDSCOPE = Bundle(
    "speedscope",
    "speedscope",
    # What dist/release/index.html loads: its stylesheet and script, the three favicons, the font its
    # stylesheet names, and the WebAssembly its script fetches for Java Flight Recorder files. Left out:
    # the favicon-*.js stubs (build leftovers nothing loads), the 260 KB example profile behind the
    # start screen's "load example" link (the console always opens a profile), the file-format schema
    # and release.txt (documents, not loaded); the JS and CSS name source maps the package does not
    # ship, which only developer tools ask for.
    {
        name: _RELEASE + name
        for name in (
            "index.html",
            "speedscope-Y2522XSH.js",
            "speedscope-GHPHNKXC.css",
            "favicon-FOKUP5Y5.ico",
            "favicon-16x16-VSI62OPJ.png",
            "favicon-32x32-3EB2YCUY.png",
            "SourceCodePro-Regular.ttf-ILST5JV6.woff2",
            "jfrview_bg-BLJXNNQB.wasm",
            "source-code-pro.LICENSE.md",
        )
    }
    | {"LICENSE": "LICENSE"},
)
BUNDLES = (UPLOT, SPEEDSCOPE)
# Kept for the callers that name uPlot's directory.
VENDOR = STATIC / UPLOT.directory
SPEEDSCOPE_DIR = STATIC / SPEEDSCOPE.directory

__all__ = ["BUNDLES", "Bundle", "VendorError", "check", "locked", "problems", "vendor"]


def locked(web: Path = WEB) -> dict[str, dict]:
    """Each package's pinned version, its locked version and integrity, and the lockfile's hash."""
    try:
        package = json.loads((web / "package.json").read_text())
        lock = json.loads((web / "package-lock.json").read_text())
    except (OSError, ValueError) as e:
        raise VendorError(f"cannot read the console's npm files in {web}: {e}") from e
    lockfile = sha256(web / "package-lock.json")
    found = {}
    for bundle in BUNDLES:
        entry = lock.get("packages", {}).get(f"node_modules/{bundle.package}", {})
        found[bundle.package] = {
            "package": bundle.package,
            "pinned": package.get("dependencies", {}).get(bundle.package),
            "version": entry.get("version"),
            "integrity": entry.get("integrity"),
            "lockfileSha256": lockfile,
        }
    return found


def problems(web: Path = WEB, static: Path = STATIC) -> list[str]:
    """What disagrees between the lockfile, the manifests and the vendored files (empty: all agree).

    Offline: reads only files in the repository."""
    found: list[str] = []
    every = locked(web)
    for bundle in BUNDLES:
        lock = every[bundle.package]
        name = bundle.package
        if not lock["version"] or not lock["integrity"]:
            found.append(f"package-lock.json has no {name} entry with a version and an integrity")
        # An exact pin, so `npm install --package-lock-only` never moves to a newer release silently.
        if lock["pinned"] != lock["version"]:
            found.append(
                f"package.json asks for {name} {lock['pinned']!r} but the lockfile holds"
                f" {lock['version']!r} (pin the exact version in both)"
            )
        out = static / bundle.directory
        try:
            manifest = json.loads((out / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            found.append(f"{out / MANIFEST} is missing or unreadable ({e})")
            continue
        for key in ("package", "version", "integrity", "lockfileSha256"):
            if manifest.get(key) != lock[key]:
                found.append(
                    f"{bundle.directory}/MANIFEST.json has {key} {manifest.get(key)!r}, the lockfile {lock[key]!r}"
                )
        found += file_problems(out, bundle.files, manifest.get("files", {}), MANIFEST)
    return found


def check(web: Path = WEB, static: Path = STATIC) -> None:
    """Raise VendorError naming each disagreement and the fix; return quietly when all agree."""
    found = problems(web, static)
    if found:
        lines = "\n".join(f"  - {p}" for p in found)
        raise VendorError(f"the console's vendored uPlot and speedscope are stale:\n{lines}\n{FIX}")


def vendor(web: Path = WEB, static: Path = STATIC, npm: str | None = None) -> dict:
    """Install the locked packages with npm in a temporary directory and copy their files under ``static``.

    Returns what was vendored: ``package`` and ``version`` (every package's, comma-separated),
    ``files`` (each path under ``static`` -> its sha256) and each package's ``manifests``.
    Scripts never run (`--ignore-scripts`): only files are taken."""
    npm = find_npm(npm, "run `airscope console vendor` again")
    lock = locked(web)
    manifests = {}
    with tempfile.TemporaryDirectory(prefix="airscope-vendor-") as tmp:
        modules = npm_ci(web, Path(tmp), npm)
        # Every package is checked before any directory is replaced: a wrong install changes nothing.
        for bundle in BUNDLES:
            version = json.loads((modules / bundle.package / "package.json").read_text()).get("version")
            if version != lock[bundle.package]["version"]:
                raise VendorError(
                    f"npm installed {bundle.package} {version}, the lockfile pins {lock[bundle.package]['version']}"
                )
        for bundle in BUNDLES:
            installed = modules / bundle.package
            out = static / bundle.directory
            hashes = replace_files(
                out, {name: installed / source for name, source in bundle.files.items()}, MANIFEST
            )
            entry = lock[bundle.package]
            manifest = {key: entry[key] for key in ("package", "version", "integrity", "lockfileSha256")}
            manifest["files"] = hashes
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            manifests[bundle.package] = manifest
    return {
        "package": ", ".join(manifests),
        "version": ", ".join(m["version"] for m in manifests.values()),
        "files": {
            f"{bundle.directory}/{name}": digest
            for bundle in BUNDLES
            for name, digest in manifests[bundle.package]["files"].items()
        },
        "manifests": manifests,
    }
