"""Request data the platform can store and hash, checked where it comes in.

- PostgreSQL's text and jsonb types cannot hold the NUL character (U+0000), which JSON and form
  fields may carry (``"\\u0000"``);
- orjson, which hashes request bodies (Idempotency-Key fingerprints) and writes cached answers,
  handles integers of at most 64 bits, while JSON numbers have no limit.

A request carrying either is refused with a 422 that names the field, instead of failing later as a 500.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, StringConstraints

T = TypeVar("T")

NUL = "\x00"
NUL_PROBLEM = "must not contain the NUL character (\\u0000)"
INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson serializes: int64 and uint64


def problem(value: Any) -> str | None:
    """What makes ``value`` (or any string, key, item or number inside it) unstorable, or None."""
    if isinstance(value, str):
        return NUL_PROBLEM if NUL in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT_RANGE[0] <= value <= INT_RANGE[1] else "numbers must fit in 64 bits"
    if isinstance(value, dict):
        items = [item for pair in value.items() for item in pair]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    return next((found for item in items if (found := problem(item)) is not None), None)


def storable(value: T) -> T:
    """``value`` itself; ValueError when it is unstorable (a pydantic validator: the 422 names the field)."""
    found = problem(value)
    if found is not None:
        raise ValueError(found)
    return value


# In a field's Annotated[...]: Annotated[str, StringConstraints(max_length=100), STORABLE]
STORABLE = AfterValidator(storable)


def _trim(value: str) -> str:
    trimmed = value.strip()
    if not trimmed:
        raise ValueError("must not be blank")
    return trimmed


def trimmed_text(max_length: int) -> Any:
    """A storable text field stored without surrounding whitespace, its limits measured on the text as
    sent, as its OpenAPI schema says (minLength 1, maxLength ``max_length``); blank text is refused.
    pydantic's ``strip_whitespace`` measures the stripped text, so it accepted 101 characters (one a
    space) where the schema promised at most 100."""
    return Annotated[
        str, StringConstraints(min_length=1, max_length=max_length), AfterValidator(_trim), STORABLE
    ]
