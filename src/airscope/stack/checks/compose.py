"""The compose file: the compose-spec schema, docker-compose's own loader, and the stack's rules.

No Docker engine runs here, so nothing is started. check-jsonschema validates the file against the
compose-spec schema (offline: the schema ships with it); Debian's docker-compose 1.29 loads it the way
`up` would (interpolation, depends_on, volumes, secrets), with every required variable of .env.example
given a dummy value. 1.29 predates the top-level `name`, so it loads a copy without it; the schema
check still sees the real file. Then the rules of our own: exact image versions, ports published only
by the allowed services (others on the loopback at most), mounted files present, every catalog service
present with its labels, depends_on naming defined services, the Dockerfile on settings' base image,
.env.example explaining every variable the file reads, and ``compose_rules``: file secrets only, fixed
addresses outside the dynamic range, no image version known not to work.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from airscope import catalog as service_catalog
from airscope.stack import compose, compose_env, compose_parts, settings
from airscope.stack.checks import compose_rules
from airscope.stack.checks._yaml_file import read_yaml

COMPOSE_PACKAGE = "docker-compose"  # Debian's, 1.29
# At least major.minor: PostgreSQL numbers its releases 15.14, everything else here x.y.z.
EXACT_VERSION = re.compile(r"^v?\d+\.\d+")


def check(root: Path) -> list[str]:
    document, unread = read_yaml(root, compose.PATH)
    if unread:
        return unread
    path = root / compose.PATH
    return [
        *_schema(path),
        *_docker_compose(root, document),
        *_images(document),
        *_ports(document),
        *_mounts(root, document),
        *_catalog_services(document),
        *_depends_on(document),
        *_dockerfile(root),
        *_env_example(root, document),
        *compose_rules.check(document),
    ]


def _schema(path: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode == 0:
        return []
    if "No module named check_jsonschema" in done.stderr:
        return [
            "check-jsonschema is not installed (a dependency in pyproject.toml; `make bootstrap` installs it)"
        ]
    return [
        f"{compose.PATH}: not valid against the compose-spec schema:\n{(done.stdout + done.stderr).strip()}"
    ]


_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _example(root: Path) -> dict[str, str | None]:
    """.env.example's variables: the value of each set one, None for each commented-out default."""
    example = root / compose_env.ENV_EXAMPLE_PATH
    lines = example.read_text().splitlines() if example.is_file() else []
    matches = (_ASSIGNMENT.match(line) for line in lines)
    return {m[2]: None if m[1] else m[3] for m in matches if m}


def _dummy_environment(root: Path) -> dict[str, str]:
    """What docker-compose loads the file with: .env.example's values, each empty one a dummy."""
    return {name: value or "dummy" for name, value in _example(root).items() if value is not None}


def _for_compose_1(document: dict) -> dict:
    """The document as docker-compose 1.29 can load it: without `name`, which it predates. Nothing
    else is changed: a key 1.29 refuses is a finding, not something to hide."""
    return {key: value for key, value in document.items() if key != "name"}


def _docker_compose(root: Path, document: dict) -> list[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        return [
            f"docker-compose is not installed, so {compose.PATH} was not loaded as compose would load it "
            f"(Debian package {COMPOSE_PACKAGE}; `make bootstrap` installs it)"
        ]
    with tempfile.TemporaryDirectory() as scratch:
        legacy = Path(scratch) / "docker-compose.yml"
        legacy.write_text(yaml.safe_dump(_for_compose_1(document)))
        env_file = Path(scratch) / "env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in _dummy_environment(root).items()))
        options = ("--project-directory", str(root / compose_parts.DEPLOY_DIR), "--env-file", str(env_file))
        done = subprocess.run(
            [binary, *options, "-f", str(legacy), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done.returncode == 0:
        return []
    complaint = (done.stdout + done.stderr).strip().replace(str(legacy), compose.PATH)
    return [f"{compose.PATH}: docker-compose config rejects it:\n{complaint}"]


def _services(document: dict) -> dict[str, dict]:
    return document.get("services") or {}


def _images(document: dict) -> list[str]:
    built = {spec.get("image") for spec in _services(document).values() if "build" in spec}
    problems = []
    for name, spec in _services(document).items():
        image = spec.get("image")
        if image is None:
            problems.append(f"{compose.PATH}: services.{name} has no image")
            continue
        if image in built:
            continue  # the project's own image, built from this checkout
        reference = image.split("@", 1)[0]
        tag = reference.rsplit("/", 1)[-1].partition(":")[2]
        if "@" not in image and not EXACT_VERSION.match(tag):
            why = "has no tag" if not tag else f"has tag {tag!r}, not an exact version"
            problems.append(
                f"{compose.PATH}: services.{name}.image {image!r} {why}: pin it in settings.IMAGES"
            )
    return problems


def _on_loopback(port: object) -> bool:
    if isinstance(port, dict):
        return port.get("host_ip") == compose_parts.LOOPBACK
    return str(port).startswith(f"{compose_parts.LOOPBACK}:")


def _ports(document: dict) -> list[str]:
    """Only the allowed services are published on the bind address; others on the loopback at most."""
    problems = []
    for name, spec in _services(document).items():
        exposed = [port for port in spec.get("ports") or () if not _on_loopback(port)]
        if exposed and name not in compose.PUBLISHED:
            problems.append(
                f"{compose.PATH}: services.{name}.ports publishes {exposed}, but only "
                f"{', '.join(compose.PUBLISHED)} may be reachable from outside the host "
                f"(others: {compose_parts.LOOPBACK} only)"
            )
    return problems


def _bind_sources(spec: dict) -> list[str]:
    sources = []
    for mount in spec.get("volumes", ()):
        if isinstance(mount, dict):
            if mount.get("type") == "bind":
                sources.append(mount["source"])
        elif mount.startswith((".", "/")):
            sources.append(mount.split(":", 1)[0])
    return sources


def _mounts(root: Path, document: dict) -> list[str]:
    """Every file or folder the compose file takes from deploy/ (mounts, build) must be there."""
    deploy = root / compose_parts.DEPLOY_DIR
    problems = []
    for name, spec in _services(document).items():
        for source in _bind_sources(spec):
            if not source.startswith("/") and not (deploy / source).exists():
                problems.append(
                    f"{compose.PATH}: services.{name}.volumes mounts {source}, which is not in "
                    f"{compose_parts.DEPLOY_DIR}/ (run `.venv/bin/airscope gen`)"
                )
        build = spec.get("build")
        if isinstance(build, dict):
            dockerfile = build.get("dockerfile", "Dockerfile")
            if not (deploy / build.get("context", ".") / dockerfile).is_file():
                problems.append(f"{compose.PATH}: services.{name}.build names {dockerfile}, which is missing")
    return problems


def _labels(spec: dict) -> dict[str, str]:
    labels = spec.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(label.partition("=")[::2] for label in labels)
    return {key: str(value) for key, value in labels.items()}


def _catalog_services(document: dict) -> list[str]:
    services = _services(document)
    problems = []
    for service in service_catalog.load().services.values():
        spec = services.get(service.name)
        if spec is None:
            problems.append(f"{compose.PATH}: catalog service {service.name} has no container")
            continue
        wanted = {
            settings.SCRAPE_LABEL: "true",
            settings.SERVICE_LABEL: service.name,
            settings.METRICS_PORT_LABEL: str(service.port),
        }
        labels = _labels(spec)
        for label, value in wanted.items():
            if labels.get(label) != value:
                problems.append(
                    f"{compose.PATH}: services.{service.name}.labels.{label} is {labels.get(label)!r}, "
                    f"want {value!r} (Prometheus and Alloy find the service by it)"
                )
    return problems


def _depends_on(document: dict) -> list[str]:
    services = _services(document)
    return [
        f"{compose.PATH}: services.{name}.depends_on names {target}, which is not a service"
        for name, spec in services.items()
        for target in spec.get("depends_on") or ()
        if target not in services
    ]


def _dockerfile(root: Path) -> list[str]:
    path = root / compose.DOCKERFILE_PATH
    if not path.is_file():
        return [f"{compose.DOCKERFILE_PATH}: missing"]
    bases = [line.split()[1] for line in path.read_text().splitlines() if line.upper().startswith("FROM ")]
    if bases != [settings.IMAGES["python"]]:
        return [
            f"{compose.DOCKERFILE_PATH}: FROM is {', '.join(bases) or 'missing'}; "
            f"settings.IMAGES['python'] is {settings.IMAGES['python']}"
        ]
    return []


def _env_example(root: Path, document: dict) -> list[str]:
    explained = set(_example(root))
    return [
        f"{compose_env.ENV_EXAMPLE_PATH}: does not list {name}, which {compose.PATH} reads"
        for name in sorted(compose_env.referenced(document) - explained)
    ]
