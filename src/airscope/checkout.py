"""The checkout this package runs from, when it runs from one (``make``, the tests, ``airscope gen``)."""

from __future__ import annotations

from pathlib import Path

from airscope.errors import AirscopeError


def find() -> Path | None:
    """The checkout's root, or None when the package is installed outside a checkout."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "airscope").is_dir():
        return root
    return None


def root() -> Path:
    """The checkout's root; an AirscopeError when there is none (a command that writes into it)."""
    found = find()
    if found is None:
        raise AirscopeError(
            f"this command runs from a checkout of airscope; {Path(__file__).resolve().parents[2]} is not one"
        )
    return found
