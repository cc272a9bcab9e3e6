"""The Airtable stand-in in this process, on a fresh SQLite file: the fixtures its tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from airscope.standins.airtable import create_app

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The stand-in's environment: a new SQLite file (returned), no rate limit, any token, no latency."""
    path = tmp_path / "airtable.sqlite"
    monkeypatch.setenv("STANDIN_AIRTABLE_DB", str(path))
    monkeypatch.setenv("STANDIN_AIRTABLE_RATE_LIMIT", "0")
    monkeypatch.delenv("STANDIN_AIRTABLE_TOKEN", raising=False)
    monkeypatch.delenv("STANDIN_LATENCY_MS", raising=False)
    return path


@pytest.fixture
def client(db_env: Path) -> Iterator[TestClient]:
    with TestClient(create_app(), headers=AUTH) as test_client:
        yield test_client
