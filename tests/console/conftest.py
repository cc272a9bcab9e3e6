"""Fixtures shared by the console's trace tests."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.local.test_topology import SpanFiles


@pytest.fixture
def files(tmp_path: Path) -> SpanFiles:
    """Span files in a temp dir, their times from ten minutes ago (inside the default search windows)."""
    return SpanFiles(tmp_path / "traces", (time.time_ns() // 10**9 - 600) * 10**9)
