"""The one grammar for durations and sizes, wherever a command, a flag or a setting accepts one.

A bare number means seconds for every duration and bytes for every size, so ``90`` means the same
to ``airscope load --duration``, ``airscope logs --since`` and ``airscope traces --min-duration``.
docs/reference.md shows ``DURATION_GRAMMAR`` and ``SIZE_GRAMMAR``; the errors quote them too.
"""

from __future__ import annotations

import re

DURATION_GRAMMAR = (
    "A duration is a number and a unit: `ms`, `s`, `m`, `h`, `d` or `w` (`500ms`, `1.5s`, `10m`, `7d`), "
    "or several units largest first (`1h30m`); a bare number means seconds (`90` is `1m30s`)."
)
SIZE_GRAMMAR = (
    "A size is a number and a unit: `B`, `KB`, `MB`, `GB` (powers of 1000) or `KiB`, `MiB`, `GiB` "
    "(powers of 1024), in any case (`50MB`, `512KiB`); a bare number means bytes."
)

_DURATION_UNITS = {"w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_BARE = re.compile(_NUMBER)
# "ms" before "m": the alternation takes the first that matches, and 5ms is not 5 minutes and an s.
_DURATION_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|[wdhms])")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_FORMAT_UNITS = (
    ("GiB", 1024**3),
    ("GB", 1000**3),
    ("MiB", 1024**2),
    ("MB", 1000**2),
    ("KiB", 1024),
    ("KB", 1000),
)
_SIZE = re.compile(rf"({_NUMBER})\s*([kmg]i?b|b)?")


def _plain(grammar: str) -> str:
    return grammar.replace("`", "")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``500ms``, ``30s``, ``1h30m``, ``90``); ``ValueError`` names the grammar."""
    value = str(text).strip().lower()
    if _BARE.fullmatch(value):
        return float(value)
    seconds, position, units_seen = 0.0, 0, []
    while position < len(value):
        match = _DURATION_PART.match(value, position)
        if match is None:
            break
        unit = _DURATION_UNITS[match[2]]
        if units_seen and unit >= units_seen[-1]:
            break  # 30m1h or 1m1m: refused rather than guessed
        units_seen.append(unit)
        seconds += float(match[1]) * unit
        position = match.end()
    if not units_seen or position < len(value):
        raise ValueError(f"{text!r} is not a duration. {_plain(DURATION_GRAMMAR)}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest spelling ``parse_duration`` reads back: ``500ms``, ``1.5s``, ``1m30s``, ``2h``, ``7d``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{_number(seconds * 1000, 3)}ms"
    total = round(seconds, 3)
    whole = int(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    rest = whole + (total - int(total))
    if rest or not parts:
        parts.append(f"{_number(rest, 3)}s")
    return "".join(parts)


def parse_size(text: str) -> int:
    """Bytes in ``text`` (``50MB``, ``512KiB``, ``1000``); ``ValueError`` names the grammar."""
    match = _SIZE.fullmatch(str(text).strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size. {_plain(SIZE_GRAMMAR)}")
    return round(float(match[1]) * _SIZE_UNITS[match[2] or ""])


def format_size(n: int) -> str:
    """``50MB``, ``10MiB``, ``1.5GB``, ``812B``: exact when a unit divides ``n``, else one decimal."""
    if n < 0:
        return "-" + format_size(-n)
    exact = [(n // size, unit) for unit, size in _FORMAT_UNITS if n >= size and n % size == 0]
    if exact:
        count, unit = min(exact)
        return f"{count}{unit}"
    for unit, size in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if n >= size:
            return f"{_number(n / size, 1)}{unit}"
    return f"{n}B"


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"
