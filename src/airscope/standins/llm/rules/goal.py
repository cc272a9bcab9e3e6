"""Reading the goal (the last user message): what it asks, and the names, values, limits and table
phrases it holds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

NUMBER_TYPES = frozenset({"number", "currency", "percent"})
BASE_ID = re.compile(r"\bapp[A-Za-z0-9]{14}\b")
RECORD_ID = re.compile(r"\brec[A-Za-z0-9]{14}\b")
_LEAD = re.compile(
    r"^(?:(?:please|ok|okay|now|then|and|so|hi|hello|hey|can you|could you|would you|will you|kindly)"
    r"\b[\s,!]*)+"
)
_CREATE = re.compile(r"(?:add|create|insert)\b")
_UPDATE = re.compile(r"(?:update|change|set|modify|edit)\b")
_DELETE = re.compile(r"(?:delete|remove)\b")
TABLES_WORD = re.compile(r"\b(?:tables|schema)\b")
_BASES = re.compile(r"\bbases\b")
_COUNT = re.compile(r"\b(?:count|how many|number of)\b")
_SEARCH_LEAD = re.compile(r"(?:find|search|look)\b")
_SHOW_LEAD = re.compile(r"(?:show|list|give|display|get)\b")
_AGGREGATE_NOUN = re.compile(r"\b(?:total|sum|average|mean|minimum|maximum|lowest|highest)\b")
_SEARCH = re.compile(r"\b(?:find|search|show|list|records?)\b")
_OPS = (
    ("sum", re.compile(r"\b(?:sum|total)\b")),
    ("avg", re.compile(r"\b(?:average|avg|mean)\b")),
    ("min", re.compile(r"\b(?:min|minimum|lowest|smallest|cheapest)\b")),
    ("max", re.compile(r"\b(?:max|maximum|highest|largest|biggest|most expensive)\b")),
)

QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|'([^']+)'")
_DOUBLE_QUOTED = r"(?:\"([^\"]*)\"|“([^”]*)”)"
_AFTER_KEYWORD = re.compile(r".*\b(?:named|called|matching|containing|for|about)\s+(.+)$", re.IGNORECASE)
_BASE_TAIL = re.compile(
    r"\s+(?:in|of|from)\s+(?:the\s+|my\s+)?(?:base\s+)?(?:app[A-Za-z0-9]{14}|base)\s*$", re.I
)
_NAMED = re.compile(
    r"\b(?:named|called)\s+(?:\"([^\"]+)\"|“([^”]+)”|(.+?))(?=\s+(?:with|and|in|into|to|from|whose)\b|[\s.?!]*$)",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    word: n
    for n, word in enumerate(
        (
            *("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
            *("eleven", "twelve", "thirteen", "fourteen", "fifteen"),
            *("sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
        ),
        start=1,
    )
}
_LIMIT = re.compile(
    r"\b(?:show|list|give|display|get|find|first|top)\s+(?:me\s+)?(?:the\s+)?(?:first\s+|top\s+)?"
    rf"(\d+|{'|'.join(_NUMBER_WORDS)})\b",
    re.IGNORECASE,
)
_PREPOSITION = re.compile(r"\b(?:in|from|of|into|to|on)\s+", re.IGNORECASE)
_PHRASE_END = re.compile(
    r"\s+(?:in|from|of|into|to|on|named|called|matching|containing|for|about|with|whose|where|that|which)\b"
    r"|[?.!,;:]",
    re.IGNORECASE,
)
_VERB_OBJECT = re.compile(
    r"^(?:how many|count|find|search|show|list|get|give|display|sum|add|create|insert|update|delete)"
    r"(?:\s+(?:me|the|all|a|an|one|new|every|up))*\s+(.+)$",
    re.IGNORECASE,
)
_PHRASE_TRIM_LEAD = re.compile(r"^(?:(?:the|a|an|table|my|all|every|records?|rows?)\s+)+", re.IGNORECASE)
_PHRASE_TRIM_TAIL = re.compile(
    r"(?:\s+(?:table|tables|records?|rows?|are|is|there|do|does|have|has))+$", re.I
)
# Words that name no table: a lookup phrase made only of them is no phrase.
_FILLER = frozenset(
    re.findall(
        r"\w+",
        "a an the it its them there here me us my our your this that these those is are was were be do does "
        "have has record records row rows table tables base all every each some any one",
    )
)


# Reading the goal --------------------------------------------------------------------------------


def _lead(goal: str) -> str:
    return _LEAD.sub("", goal.lower().strip())


# The verbs a goal may start with (rules 1-3 of the package docstring), then the words it may hold
# anywhere (rules 4-5 and 7), each with what it asks.
_LEAD_VERBS = (("create", _CREATE), ("update", _UPDATE), ("delete", _DELETE))
_WORDS = (("tables", TABLES_WORD), ("bases", _BASES))


def intent(goal: str) -> str | None:
    """What the goal asks: the first rule of the package docstring's list that applies."""
    text, lead = goal.lower(), _lead(goal)
    if kind := next((kind for kind, verb in _LEAD_VERBS if verb.match(lead)), None):
        return kind
    if kind := next((kind for kind, word in _WORDS if word.search(text)), None):
        return kind
    if RECORD_ID.search(goal):
        return "get"
    if _COUNT.search(text):
        return "count"
    if _SEARCH_LEAD.match(lead) or (_SHOW_LEAD.match(lead) and not _AGGREGATE_NOUN.search(text)):
        return "search"
    if aggregate_op(goal):
        return "aggregate"
    return "search" if _SEARCH.search(text) else None


def aggregate_op(goal: str) -> str | None:
    text = goal.lower()
    found = [(m.start(), op) for op, pattern in _OPS if (m := pattern.search(text))]
    return min(found)[1] if found else None


def _quoted(match: re.Match[str]) -> str:
    return next((group for group in match.groups() if group is not None), "")


def search_query(goal: str) -> str:
    if quoted := QUOTED.search(goal):
        return _quoted(quoted)
    if after := _AFTER_KEYWORD.match(goal.strip()):
        query = _BASE_TAIL.sub("", after.group(1).strip().rstrip("?.!").strip())
        return "" if BASE_ID.search(query) else query.strip()
    return ""


def record_limit(goal: str) -> int | None:
    if match := _LIMIT.search(goal):
        word = match.group(1).lower()
        number = int(word) if word.isdigit() else _NUMBER_WORDS[word]
        return max(1, min(number, 100))
    return None


def record_name(goal: str) -> str | None:
    if match := _NAMED.search(goal):
        name = _quoted(match).strip().rstrip("?.!").strip()
        return name or None
    return None


def field_values(goal: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """The ``Field "value"`` pairs of the goal, for fields the table has, typed by the field."""
    values: dict[str, Any] = {}
    for name in sorted(fields, key=len, reverse=True):
        pattern = rf"(?<![\w\"“]){re.escape(name)}\s*(?:=|:|\bis\b|\bto\b|\bas\b|\bof\b)?\s*{_DOUBLE_QUOTED}"
        if match := re.search(pattern, goal, re.IGNORECASE):
            values[name] = _typed(_quoted(match), fields[name])
    return {name: values[name] for name in fields if name in values}


def _typed(text: str, kind: str) -> Any:
    if kind in NUMBER_TYPES:
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    if kind == "checkbox":
        return text.strip().lower() in ("yes", "true", "1", "x", "checked")
    return text


def search_field(goal: str, fields: Mapping[str, str]) -> tuple[str, str] | None:
    """A field the goal searches in: a ``Field "value"`` pair, or "whose/where/with Field is value"."""
    if pairs := field_values(goal, {name: "text" for name in fields}):
        name, value = next(iter(pairs.items()))
        return name, str(value)
    for name in sorted(fields, key=len, reverse=True):
        pattern = rf"\b(?:whose|where|with)\s+{re.escape(name)}\s+(?:is|contains|=|equals)\s+(.+?)[\s?.!]*$"
        if match := re.search(pattern, goal, re.IGNORECASE):
            return name, match.group(1).strip().strip("\"'“”")
    return None


def mentioned_table(goal: str, tables: Sequence[str]) -> str | None:
    """The table the goal names: the earliest mention, then the longest name."""
    text = goal.lower()
    found: list[tuple[int, int, str]] = []
    for name in tables:
        forms = {name.lower(), name.lower().removesuffix("s")}
        starts = [m.start() for form in forms if form for m in re.finditer(rf"\b{re.escape(form)}\b", text)]
        if starts:
            found.append((min(starts), -len(name), name))
    return min(found)[2] if found else None


COUNT_WORD = re.compile(rf"^(?:\d+|{'|'.join(_NUMBER_WORDS)})\s+", re.IGNORECASE)


def as_written(phrase: str, goal: str) -> str:
    """The goal's own words for a phrase of ``table_phrases`` ("order" -> "Orders")."""
    found = re.search(rf"\b{re.escape(phrase)}s?\b", goal, re.IGNORECASE)
    return found.group(0) if found else phrase


def table_phrases(goal: str) -> list[str]:
    """Phrases of the goal that may name a table, for ``list_tables(name_contains=...)``."""
    text = BASE_ID.sub(" ", RECORD_ID.sub(" ", QUOTED.sub(" ", goal)))
    raw: list[str] = []
    for match in _PREPOSITION.finditer(text):
        rest = text[match.end() :]
        end = _PHRASE_END.search(rest)
        raw.append(rest[: end.start()] if end else rest)
    lead = _LEAD.sub("", text.strip())
    if verb := _VERB_OBJECT.match(lead):
        rest = verb.group(1)
        end = _PHRASE_END.search(rest)
        raw.append(rest[: end.start()] if end else rest)
    phrases: list[str] = []
    for phrase in raw:
        phrase = _PHRASE_TRIM_TAIL.sub("", _PHRASE_TRIM_LEAD.sub("", phrase.strip())).strip().lower()
        if len(phrase) > 3 and phrase.endswith("s") and not phrase.endswith("ss"):
            phrase = phrase[:-1]
        words = phrase.split()
        if words and not set(words) <= _FILLER and "base" not in words and phrase not in phrases:
            phrases.append(phrase)
    return phrases
