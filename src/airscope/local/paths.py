"""Where local mode keeps its state: ``$AIRSCOPE_HOME``, else ``var/`` in the checkout."""

from __future__ import annotations

import os
from pathlib import Path

from airscope import checkout
from airscope.local.settings import HOME_ENV


def home() -> Path:
    """$AIRSCOPE_HOME, else ``<checkout>/var``, else ``./var`` when installed outside a checkout."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).absolute()
    root = checkout.find()
    return root / "var" if root else Path.cwd() / "var"


def log_dir() -> Path:
    return home() / "log"


def run_dir() -> Path:
    """Pid files, and the PostgreSQL socket directory."""
    return home() / "run"


def data_dir() -> Path:
    """What survives ``airscope down``: the PostgreSQL cluster and Redis' working directory."""
    return home() / "data"


def trace_dir() -> Path:
    """Spans the services export as OTLP JSON lines, one file per service."""
    return home() / "traces"
