"""A tool result made to fit the model's context, and still valid JSON.

Cutting a JSON text at N characters leaves something no model (and no parser) can read: a grown base
once made every chat answer "the tool failed". So a result that is too long loses *whole items*: the
items at the end of its longest list go, and ``"omitted": {"<list key>": <items left out>}`` says so,
which a model reads as "this list is partial". String values over ``MAX_VALUE_CHARS`` are shortened
first (a record's long notes rarely matter to the answer), ending in an ellipsis.

Hand-written: no library shrinks a JSON document to a size by dropping list items.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_VALUE_CHARS = 1_000
ELLIPSIS = "…"


@dataclass(frozen=True)
class Fitted:
    text: str
    cut: bool  # whether anything was left out or shortened


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _shorten_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + ELLIPSIS
    if isinstance(value, dict):
        return {key: _shorten_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shorten_strings(item) for item in value]
    return value


def _longest_list(data: dict[str, Any]) -> str | None:
    lists = [(len(compact(value)), key) for key, value in data.items() if isinstance(value, list) and value]
    return max(lists)[1] if lists else None


def _without_tail(data: dict[str, Any], key: str, keep: int) -> dict[str, Any]:
    earlier = data.get("omitted")
    omitted = {**(earlier if isinstance(earlier, dict) else {}), key: len(data[key]) - keep}
    return {**data, key: data[key][:keep], "omitted": omitted}


def fit(value: Any, limit: int) -> Fitted:
    """``value`` as compact JSON of at most ``limit`` characters (see the module docstring)."""
    text = compact(value)
    if len(text) <= limit:
        return Fitted(text, cut=False)
    value = _shorten_strings(value)
    text = compact(value)
    if len(text) <= limit:
        return Fitted(text, cut=True)
    data = value if isinstance(value, dict) else {"items": value} if isinstance(value, list) else None
    key = _longest_list(data) if data is not None else None
    if data is None or key is None:
        return Fitted(
            compact({"omitted": {"result": len(text)}, "note": "result too large to show"}), cut=True
        )
    # The most items that fit, by bisection: each try is one serialisation of the result.
    low, high = 0, len(data[key]) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if len(compact(_without_tail(data, key, middle))) <= limit:
            low = middle
        else:
            high = middle - 1
    fitted = compact(_without_tail(data, key, low))
    if len(fitted) > limit:  # even without that list's items it is too large
        return Fitted(
            compact({"omitted": {key: len(data[key])}, "note": "result too large to show"}), cut=True
        )
    return Fitted(fitted, cut=True)
