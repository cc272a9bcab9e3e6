"""``airscope gen``: every generated file of the project, written from its one source.

Each generator is a function returning ``{path relative to the checkout: content}``; ``write``
writes them, ``stale`` names those whose committed content differs (``airscope gen --check``,
run by ``make test``, so a generated file cannot drift from its source).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airscope import checkout, stack
from airscope.gen import doc_tables, escalation, metrics_reference, reference, thresholds

GENERATORS: tuple[Callable[[], dict[str, str]], ...] = (
    metrics_reference.generate,
    reference.generate,
    stack.generate,
    doc_tables.generate,
    escalation.generate,
    thresholds.generate,
)


def generated() -> dict[str, str]:
    files: dict[str, str] = {}
    for generator in GENERATORS:
        files.update(generator())
    return files


def write(root: Path | None = None) -> list[str]:
    """Writes every generated file; returns the paths whose content changed."""
    root = root or checkout.root()
    changed = []
    for relative, content in generated().items():
        path = root / relative
        if not path.exists() or path.read_text() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            changed.append(relative)
    return changed


def stale(root: Path | None = None) -> list[str]:
    """The generated files whose committed content is not what the generators make now."""
    root = root or checkout.root()
    return [
        relative
        for relative, content in generated().items()
        if not (root / relative).exists() or (root / relative).read_text() != content
    ]
