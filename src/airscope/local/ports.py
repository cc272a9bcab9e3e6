"""Ports of local mode: every one can be moved by an environment variable, and a clash names its holder."""

from __future__ import annotations

import errno
import os
import socket

import psutil

from airscope import catalog
from airscope.local import LocalError
from airscope.local.settings import PORT_ENV


def env_var(name: str) -> str:
    """The variable that moves ``name``'s port: AIRSCOPE_PORT_POSTGRES, AIRSCOPE_PORT_API_GATEWAY, ..."""
    return PORT_ENV.replace("<NAME>", catalog.env_name(name))


def port_for(name: str, default: int) -> int:
    """The port of ``name``: its AIRSCOPE_PORT_<NAME> when set, else ``default``."""
    var = env_var(name)
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise LocalError(f"{var}={raw!r} is not a port number (1 to 65535)")
    return int(raw)


def ensure_free(port: int, what: str, env_var: str) -> None:
    """Raises LocalError naming the port, its holder and ``env_var`` when 127.0.0.1:port cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The servers set SO_REUSEADDR too, so connections in TIME_WAIT are no clash.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise LocalError(f"cannot use port {port} for {what}: {exc.strerror}") from exc
    by = holder(port) or "a process whose pid is not visible here"
    raise LocalError(
        f"port {port} for {what} is already in use by {by}. "
        f"Stop that process, or move {what} to a free port with {env_var}=<port>."
    )


def holder(port: int) -> str | None:
    """``pid N (command line)`` of the process listening on TCP ``port``, when this user may see it."""
    for pid in listeners(port):
        try:
            command = " ".join(psutil.Process(pid).cmdline()) or "?"
        except psutil.Error:  # gone meanwhile, or another user's process
            continue
        return f"pid {pid} ({command if len(command) <= 120 else command[:117] + '...'})"
    return None


def listeners(port: int) -> list[int]:
    """The pids listening on TCP ``port`` (IPv4 or IPv6) that this user may see."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return []
    return sorted(
        {
            c.pid
            for c in connections
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
        }
    )
