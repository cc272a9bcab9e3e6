"""Removes secrets from log events and span attributes before they leave the process."""

from __future__ import annotations

import re
from collections.abc import Mapping

REDACTED = "[REDACTED]"

# A key whose value is a secret, whatever the value looks like. ``token`` but not ``tokens``: a
# plural is a count (``gen_ai.usage.input_tokens``, ``max_tokens``), which operators need to see.
SECRET_KEY = re.compile(
    r"authori[sz]ation|cookie|passw(or)?d|passwd|secret|token(?!s(?![a-z]))|api[-_]?key|x-api-key|credential"
    r"|private[-_]?key",
    re.IGNORECASE,
)

# Secrets inside free text: bearer/basic credentials, key=value pairs (query strings, DSNs'
# parameters), and the password part of a URL's user info.
_SECRET_IN_TEXT = re.compile(
    r"(?P<scheme>\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]+=*"
    r"|(?P<key>\b[\w-]*(?:passw(?:or)?d|passwd|secret|token(?!s(?![a-z]))|api[-_]?key|apikey|authorization)[\w-]*\s*[=:]\s*)"
    r"(?P<quote>[\"']?)(?:(?:bearer|basic)\s+)?[^\s&\"',;]+"
    r"|(?P<userinfo>://[^/\s:@]+:)[^@/\s]+(?=@)",
    re.IGNORECASE,
)


def _replace(match: re.Match) -> str:
    if match["scheme"]:
        return match["scheme"] + REDACTED
    if match["key"]:
        return match["key"] + match["quote"] + REDACTED
    return match["userinfo"] + REDACTED


# Every match of _SECRET_IN_TEXT contains one of these; most text contains none, and this
# search is several times cheaper than the full pattern's backtracking over every word.
_MAYBE_SECRET = re.compile(r"bearer|basic|passw|secret|token|api[-_]?key|authori[sz]ation|://", re.IGNORECASE)

# Log keys repeat endlessly and are few: decide each once.
_key_verdicts: dict[str, bool] = {}


def is_secret_key(key: str) -> bool:
    verdict = _key_verdicts.get(key)
    if verdict is None:
        verdict = bool(SECRET_KEY.search(key))
        if len(_key_verdicts) < 10_000:  # bounded: keys could come from outside
            _key_verdicts[key] = verdict
    return verdict


def redact_text(text: str) -> str:
    if not _MAYBE_SECRET.search(text):
        return text
    return _SECRET_IN_TEXT.sub(_replace, text)


def redact(value: object, key: str | None = None) -> object:
    """A copy of ``value`` with secrets replaced; containers are walked."""
    if key is not None and is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return value


class RedactSecrets:
    """structlog processor: no secret reaches a log line, whether passed as a key or inside text."""

    def __call__(self, logger, method_name: str, event_dict: dict) -> dict:
        for key, value in event_dict.items():
            if isinstance(value, int | float | bool) or value is None:
                continue
            event_dict[key] = redact(value, key)
        return event_dict
