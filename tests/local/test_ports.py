from __future__ import annotations

import os
import socket

import pytest

from airscope.local import LocalError, ports


def test_env_var_names_the_catalog_entry():
    assert ports.env_var("postgres") == "AIRSCOPE_PORT_POSTGRES"
    assert ports.env_var("api-gateway") == "AIRSCOPE_PORT_API_GATEWAY"


def test_port_for_reads_the_env_var(monkeypatch):
    monkeypatch.delenv("AIRSCOPE_PORT_REDIS", raising=False)
    assert ports.port_for("redis", 6379) == 6379
    monkeypatch.setenv("AIRSCOPE_PORT_REDIS", "16379")
    assert ports.port_for("redis", 6379) == 16379
    monkeypatch.setenv("AIRSCOPE_PORT_REDIS", "70000")
    with pytest.raises(LocalError, match="AIRSCOPE_PORT_REDIS='70000'"):
        ports.port_for("redis", 6379)


def test_ensure_free_passes_on_a_free_port(free_port):
    ports.ensure_free(free_port(), "redis", "AIRSCOPE_PORT_REDIS")


def test_a_taken_port_names_the_port_its_holder_and_the_env_var():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(LocalError) as caught:
            ports.ensure_free(port, "postgres", "AIRSCOPE_PORT_POSTGRES")
    message = str(caught.value)
    assert f"port {port}" in message
    assert "AIRSCOPE_PORT_POSTGRES" in message
    assert f"pid {os.getpid()} " in message  # this very test process holds it
