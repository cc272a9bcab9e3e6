"""The runbooks of docs/runbooks, as the assistant reads them: whole (a resource) or their first
checks (beside an alert, and in the ``investigate`` prompt)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from airscope import checkout
from airscope.errors import AirscopeError
from airscope.operator_mcp import limits

URI_SCHEME = "runbook"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)
FIRST_CHECKS = "First checks"


def default_dir() -> Path | None:
    """docs/runbooks of the checkout this runs from; None for an installed package without one."""
    root = checkout.find()
    return root / "docs" / "runbooks" if root else None


def uri(name: str) -> str:
    return f"{URI_SCHEME}://{name}"


def name_from_url(url: str | None) -> str | None:
    """``HighLatency`` from an alert's runbook_url (``.../docs/runbooks/HighLatency.md#anchor``)."""
    if not url:
        return None
    stem = Path(urlsplit(url).path).stem
    return stem if _NAME.fullmatch(stem) else None


class Runbooks:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def names(self) -> list[str]:
        if self.directory is None or not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.md") if p.stem != "README")

    def text(self, name: str) -> str:
        if not _NAME.fullmatch(name) or name not in self.names():
            known = ", ".join(self.names()) or "none: no docs/runbooks here"
            raise AirscopeError(f"no runbook {name!r} (there are: {known})")
        assert self.directory is not None  # names() is empty without one
        return (self.directory / f"{name}.md").read_text()

    def first_checks(self, name: str) -> str | None:
        """The runbook's "First checks" section, cut at ``limits.MAX_RUNBOOK_CHARS``; None when the
        runbook is missing or has no such section."""
        try:
            text = self.text(name)
        except AirscopeError:
            return None
        return section(text, FIRST_CHECKS)


def section(markdown: str, title: str) -> str | None:
    heads = list(_SECTION.finditer(markdown))
    for index, head in enumerate(heads):
        if head.group(1).strip() == title:
            end = heads[index + 1].start() if index + 1 < len(heads) else len(markdown)
            body = markdown[head.end() : end].strip()
            if len(body) > limits.MAX_RUNBOOK_CHARS:
                body = body[: limits.MAX_RUNBOOK_CHARS] + "\n[... cut: read the whole runbook resource]"
            return body
    return None
