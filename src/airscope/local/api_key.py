"""The platform's API key for the commands that call the gateway (`load`, `fuzz`, `bench`, `drill`).

``$AIRSCOPE_API_KEY`` wins; else the key `make up` generated and keeps in ``paths.home()/api-key``.
"""

from __future__ import annotations

import os

from airscope.local import LocalError, paths
from airscope.local.settings import API_KEY_ENV

API_KEY_FILE = "api-key"  # under paths.home()


def api_key() -> str:
    """$AIRSCOPE_API_KEY, else the key `make up` keeps in ``paths.home()/api-key``."""
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    kept = paths.home() / API_KEY_FILE
    try:
        key = kept.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        raise LocalError(
            f"no API key: set {API_KEY_ENV}, or run `make up`, which keeps the platform's key in {kept}"
        )
    return key
