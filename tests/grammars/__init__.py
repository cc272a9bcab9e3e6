"""Grafana's own LogQL and TraceQL grammars, to check the syntax of queries the console cannot run.

The console runs a subset of each language (``airscope.console.logql``, ``airscope.console.traceql``);
a cookbook query outside it still has to be valid. The grammars Grafana's query editors parse with,
``@grafana/lezer-logql`` and ``@grafana/lezer-traceql`` (Lezer LR parsers generated from the Loki
and Tempo grammars), are vendored from the npm registry into ``vendor/``: ``package.json`` pins the
exact versions and ``package-lock.json`` their integrity, ``python -m tests.grammars`` installs from
that lockfile (``npm ci``, scripts off) and copies the four ES modules, and ``MANIFEST.json`` records
the versions they came from. ``errors()`` runs them with Node (``parse.mjs``): a query with an error
node in its tree is not LogQL (TraceQL) to Grafana either.

Lezer recovers from errors rather than stopping, so a query is valid when its tree has no error
node; it checks syntax only (names of functions, not their arity or types).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from airscope.npm_vendor import VendorError, find_npm, npm_ci

HERE = Path(__file__).parent
VENDOR = HERE / "vendor"
MANIFEST = "MANIFEST.json"
# The vendored name -> (the npm package, the ES module inside it). The packages import each other by
# name, so errors() lays them out as node_modules again before Node loads them.
FILES = {
    "lezer-logql.js": ("@grafana/lezer-logql", "index.es.js"),
    "lezer-traceql.js": ("@grafana/lezer-traceql", "index.es.js"),
    "lezer-lr.js": ("@lezer/lr", "dist/index.js"),
    "lezer-common.js": ("@lezer/common", "dist/index.js"),
}
LICENSES = {"LICENSE-lezer": ("@lezer/lr", "LICENSE")}  # MIT; Grafana's two are Apache-2.0
LANGUAGES = {"logql": "@grafana/lezer-logql", "traceql": "@grafana/lezer-traceql"}
NODE_TIMEOUT_S = 60


def locked() -> dict[str, str]:
    """Each package's version in the lockfile."""
    lock = json.loads((HERE / "package-lock.json").read_text())
    return {
        name.removeprefix("node_modules/"): entry["version"]
        for name, entry in lock["packages"].items()
        if name.startswith("node_modules/")
    }


def problems() -> list[str]:
    """What disagrees between package.json, the lockfile, the manifest and vendor/ (empty: all agree)."""
    pinned = json.loads((HERE / "package.json").read_text())["dependencies"]
    versions = locked()
    found = [
        f"package.json pins {name} {version}, the lockfile holds {versions.get(name)}"
        for name, version in pinned.items()
        if versions.get(name) != version
    ]
    try:
        manifest = json.loads((VENDOR / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        return [*found, f"{VENDOR / MANIFEST} is missing or unreadable ({error})"]
    if manifest.get("versions") != versions:
        found.append(f"{MANIFEST} was made from {manifest.get('versions')}, the lockfile holds {versions}")
    expected = {*FILES, *LICENSES, MANIFEST}
    present = {path.name for path in VENDOR.iterdir()}
    if present != expected:
        found.append(f"vendor/ holds {sorted(present)}, expected {sorted(expected)}")
    return found


def vendor(npm: str | None = None) -> None:
    """Install the lockfile with npm in a temporary directory and copy the modules into vendor/."""
    npm = find_npm(npm, "run `python -m tests.grammars` again")
    with tempfile.TemporaryDirectory(prefix="airscope-grammars-") as tmp:
        modules = npm_ci(HERE, Path(tmp), npm)
        if VENDOR.exists():
            shutil.rmtree(VENDOR)
        VENDOR.mkdir()
        for name, (package, inside) in {**FILES, **LICENSES}.items():
            shutil.copyfile(modules / package / inside, VENDOR / name)
    manifest = {"versions": locked(), "files": {name: package for name, (package, _) in FILES.items()}}
    (VENDOR / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def errors(language: str, queries: list[str]) -> list[str | None]:
    """For each query, None when Grafana's grammar for ``language`` parses it without an error node,
    else where the first error is, with the text from there."""
    node = shutil.which("node")
    if node is None:
        raise VendorError("node is not installed: the grammar checks need Node.js (Debian's package nodejs)")
    with tempfile.TemporaryDirectory(prefix="airscope-grammars-") as tmp:
        modules = Path(tmp) / "node_modules"
        for name, (package, _) in FILES.items():
            where = modules / package
            where.mkdir(parents=True)
            shutil.copyfile(VENDOR / name, where / "index.js")
            (where / "package.json").write_text(
                json.dumps({"name": package, "type": "module", "main": "index.js"})
            )
        shutil.copyfile(HERE / "parse.mjs", Path(tmp) / "parse.mjs")
        done = subprocess.run(
            [node, "parse.mjs", LANGUAGES[language]],
            cwd=tmp,
            input=json.dumps(queries),
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT_S,
        )
    if done.returncode != 0:
        raise VendorError(f"parse.mjs failed (exit {done.returncode}):\n{done.stderr.strip()}")
    return json.loads(done.stdout)
