"""A generated YAML file as the checks read it: a mapping, or the one problem that stops its check."""

from __future__ import annotations

from pathlib import Path

import yaml


def read_yaml(root: Path, relative: str) -> tuple[dict, list[str]]:
    """``root/relative`` as a mapping, or ({}, [why not]) naming the file and the fix."""
    path = root / relative
    if not path.is_file():
        return {}, [f"{relative}: missing; run `.venv/bin/airscope gen`"]
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        return {}, [f"{relative}: not valid YAML: {error}"]
    if not isinstance(data, dict):
        return {}, [f"{relative}: not a YAML mapping"]
    return data, []
