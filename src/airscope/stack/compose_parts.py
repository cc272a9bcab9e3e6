"""The small pieces every container of deploy/docker-compose.yml shares: who it runs as, its
confinement, logging, health checks, bind mounts and start order.

Every container is confined (see ``confined``): a non-root user, a read-only root filesystem with
tmpfs where it writes scratch files, no capabilities and no-new-privileges; the few that run as root
say why where they are built.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from airscope.stack.compose_env import BIND_ADDRESS

DEPLOY_DIR = "deploy"

# Who each container runs as: the uid[:gid] its image's Dockerfile declares (postgres and redis: the
# user their entrypoints switch to), written out so that the file says it and a changed image default
# cannot turn a container into root unnoticed. Numeric: several images have no /etc/passwd.
APP_USER = "10001:10001"  # deploy/Dockerfile's airscope user
IMAGE_USERS = {
    "postgres": "999:999",  # postgres; the data volume starts as the image's directory, owned by it
    "redis": "999:999",  # redis; likewise /data
    "alertmanager": "65534:65534",  # nobody
    "grafana": "472:0",  # grafana, in the root group as the image has it
    "loki": "10001:10001",
    "tempo": "10001:10001",
    "pyroscope": "10001:10001",  # pyroscope; the image's /data volume is owned by it
    "jaeger": "10001",
    "node-exporter": "65534:65534",
    "redis-exporter": "59000:59000",
    "postgres-exporter": "65534:65534",
    "blackbox-exporter": "6170",  # blackbox_exporter (http probes only: no ICMP, no raw sockets)
}
# Scratch space where the root filesystem is read-only; bounded, since tmpfs counts as memory.
TMP = "/tmp:mode=1777,size=64m"


def log_driver() -> dict:
    # Docker's json-file driver (what Alloy reads through the socket), rotated so no log fills the disk.
    return {"driver": "json-file", "options": {"max-size": "10m", "max-file": "5"}}


def healthcheck(*test: str) -> dict:
    # start_period: failures while a container starts do not count, and the first pass ends it.
    return {"test": list(test), "interval": "15s", "timeout": "5s", "retries": 5, "start_period": "60s"}


def http_probe(port: int, path: str) -> dict:
    """For the images with busybox (wget) in them."""
    return healthcheck("CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}")


def from_deploy(path: str) -> str:
    """A checkout-relative path under deploy/ as the compose file names it (relative to deploy/)."""
    return f"./{PurePosixPath(path).relative_to(DEPLOY_DIR)}"


def bind(source: str, target: str, **bind: str) -> dict:
    # The long syntax: a missing source fails `up` instead of being created as an empty directory.
    mount = {"type": "bind", "source": source, "target": target, "read_only": True}
    return {**mount, "bind": bind} if bind else mount


def config_file(path: str, directory: str) -> tuple[dict, str]:
    """The bind mount of a generated config file into ``directory`` and its path in the container."""
    target = f"{directory}/{PurePosixPath(path).name}"
    return bind(from_deploy(path), target), target


def container(image: str, **spec: object) -> dict:
    return {"image": image, **spec, "restart": "unless-stopped", "logging": log_driver()}


def confined(
    user: str, *, writable: tuple[str, ...] = (TMP,), read_only: bool = True, capabilities: bool = False
) -> dict:
    """Who the container runs as, a read-only root filesystem with tmpfs at ``writable``, no
    capabilities unless ``capabilities``, and no-new-privileges: no setuid binary in the image can
    gain what the container was not given."""
    spec: dict[str, object] = {"user": user}
    if read_only:
        spec |= {"read_only": True, "tmpfs": list(writable)}
    if not capabilities:
        spec["cap_drop"] = ["ALL"]
    return spec | {"security_opt": ["no-new-privileges:true"]}


def after(*names: str, healthy: tuple[str, ...] = ()) -> dict:
    """depends_on: started for those it merely talks to, healthy for the stores it cannot work without."""
    return {
        **{name: {"condition": "service_healthy"} for name in healthy},
        **{name: {"condition": "service_started"} for name in names},
    }


def published(port: int) -> list[str]:
    return [f"{BIND_ADDRESS.ref()}:{port}:{port}"]


LOOPBACK = "127.0.0.1"


def on_loopback(port: int) -> list[str]:
    """Published on the host's loopback only, whatever AIRSCOPE_BIND_ADDRESS says: for a UI with no
    sign-in of its own, which an operator reaches from the host itself or through an ssh tunnel."""
    return [f"{LOOPBACK}:{port}:{port}"]
