"""Browser code vendored from the npm registry: the mechanism the console (uPlot) and the frontend
(Faro) share, each with its own packages, files and manifest.

Install from a committed lockfile (``npm ci``, scripts off) in a temporary directory, copy the few
files a page loads into a ``static/vendor/`` directory with their sha256 in a manifest, and check,
offline, that the files still match it. At the bottom of the layers so that a service and the
console can both use it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from airscope.errors import AirscopeError

NPM_TIMEOUT_S = 300
LOCKFILES = ("package.json", "package-lock.json")


class VendorError(AirscopeError):
    """The vendored files cannot be made, or no longer match the lockfile."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_problems(out: Path, files: Iterable[str], hashes: Mapping[str, str], manifest: str) -> list[str]:
    """What disagrees between a manifest's file hashes and the files in ``out`` (empty: all agree)."""
    files = list(files)
    found = []
    if sorted(hashes) != sorted(files):
        found.append(f"{manifest} lists {sorted(hashes)}, expected {sorted(files)}")
    for name in files:
        path = out / name
        if not path.is_file():
            found.append(f"{name} is missing from {out}")
        elif sha256(path) != hashes.get(name):
            found.append(f"{name} differs from the sha256 in {manifest} (edited or stale)")
    for path in sorted(out.iterdir()) if out.is_dir() else ():
        if path.name not in files and path.name != manifest:
            found.append(f"{path.name} in {out} is not a vendored file (remove it)")
    return found


def find_npm(npm: str | None, then: str) -> str:
    """``npm``, else the one on PATH; ``then`` is what to do once npm is installed."""
    found = npm or shutil.which("npm")
    if found is None:
        raise VendorError(
            f"npm is not installed: install Debian's package `npm` (sudo apt-get install npm), then {then}"
        )
    return found


def npm_ci(web: Path, work: Path, npm: str) -> Path:
    """Install ``web``'s lockfile into ``work`` with ``npm ci`` (scripts never run: only files are
    taken) and return its node_modules."""
    for name in LOCKFILES:
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
        raise VendorError(f"`npm ci` failed (exit {done.returncode}); is the npm registry reachable?\n{tail}")
    return work / "node_modules"


def replace_files(out: Path, sources: Mapping[str, Path], manifest: str) -> dict[str, str]:
    """Copy each source to ``out/<name>``, remove any other file but the manifest, and return the
    copies' sha256 by name."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.name not in sources and path.name != manifest and path.is_file():
            path.unlink()
    hashes = {}
    for name, source in sources.items():
        shutil.copyfile(source, out / name)
        hashes[name] = sha256(out / name)
    return hashes
