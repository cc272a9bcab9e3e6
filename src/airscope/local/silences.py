"""`airscope silence add|list|expire`: Alertmanager silences with amtool's matcher syntax.

A matcher is ``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex``, as amtool and
Alertmanager's own configuration write them (a value may be double-quoted, for spaces or commas).
A silence mutes the notifications of the alerts every one of its matchers matches; the alerts still
fire, show (as ``suppressed``) and inhibit. The client is ``alertmanager_api``'s, so the same calls
reach the local Alertmanager or production's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from airscope import units
from airscope.errors import AirscopeError
from airscope.promapi import Alertmanager, Matcher, PromAPIError, Silence

MATCHER_GRAMMAR = (
    "A matcher is name=value, name!=value, name=~regex or name!~regex (amtool's syntax), "
    'e.g. alertname=HighLatency service=llm-orchestrator, severity=~"warning|critical"; quote a value '
    "with spaces."
)
# Alertmanager's label names (model.LabelNameRE); the operators longest first, so =~ is not = "~...".
_MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)(.*)", re.DOTALL)
_OPERATORS = {"=": (True, False), "!=": (False, False), "=~": (True, True), "!~": (False, True)}
# What `silence list` shows unless --all: the silences that mute now or will.
CURRENT = ("active", "pending")


def parse_matcher(text: str) -> Matcher:
    """``name=value`` (and ``!=``, ``=~``, ``!~``) as a Matcher; ValueError naming the grammar."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a matcher. {MATCHER_GRAMMAR}")
    name, operator, value = found[1], found[2], found[3].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(
                f"{text!r}: the quoted value is not closed properly. {MATCHER_GRAMMAR}"
            ) from None
    is_equal, is_regex = _OPERATORS[operator]
    if is_regex:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: {value!r} is not a regular expression ({exc})") from None
    return Matcher(name, value, is_regex=is_regex, is_equal=is_equal)


def format_matcher(matcher: Matcher) -> str:
    """The matcher as amtool writes it, which parse_matcher reads back."""
    operator = ("=" if matcher.is_equal else "!") + ("~" if matcher.is_regex else "=")
    operator = "=" if operator == "==" else operator
    value = matcher.value
    # Quoted, as amtool prints it, when more than a plain word: severity=~"warning|critical".
    if not re.fullmatch(r"[\w.:/@-]+", value):
        value = json.dumps(value)
    return f"{matcher.name}{operator}{value}"


def _matches_empty(matcher: Matcher) -> bool:
    """Whether an alert without the label (its value "") matches: Alertmanager refuses a silence
    made only of such matchers, which would mute every alert."""
    hit = re.fullmatch(matcher.value, "") is not None if matcher.is_regex else matcher.value == ""
    return hit == matcher.is_equal


def check(matchers: Sequence[Matcher], duration: float, comment: str, author: str) -> None:
    """AirscopeError naming the fix when the silence would be refused or mean nothing."""
    if not matchers:
        raise AirscopeError(f"a silence needs at least one matcher. {MATCHER_GRAMMAR}")
    if all(_matches_empty(m) for m in matchers):
        shown = " ".join(format_matcher(m) for m in matchers)
        raise AirscopeError(
            f"{shown} would silence every alert (each matcher also matches an alert without the label): "
            "add one that names what to mute, e.g. alertname=HighLatency service=llm-orchestrator"
        )
    if duration <= 0:
        raise AirscopeError("the silence's --duration must be more than 0, e.g. --duration 2h")
    if not comment.strip():
        raise AirscopeError(
            'a silence needs a comment saying why: --comment "inc-2026-03-01: provider slow, mitigating"'
        )
    if not author.strip():
        raise AirscopeError("a silence needs an author: --author NAME (default: $USER, unset here)")


def add(client: Alertmanager, matchers: Sequence[Matcher], duration: float, comment: str, author: str) -> str:
    """Silences what ``matchers`` match from now for ``duration`` seconds; the silence's id."""
    check(matchers, duration, comment, author)
    return client.create_silence(matchers, duration, created_by=author.strip(), comment=comment.strip())


def current(client: Alertmanager, every: bool = False) -> list[Silence]:
    """The active and pending silences (``every``: expired ones too), the soonest to end first."""
    found = [s for s in client.silences() if every or s.state in CURRENT]
    return sorted(found, key=lambda s: (s.state not in CURRENT, _time(s.ends_at)))


def expire(client: Alertmanager, silence_ids: Iterable[str]) -> dict[str, str | None]:
    """Expires each silence: id -> None when done, else why not (Alertmanager's words). An unreached
    Alertmanager stops at once (alertmanager_api.connect names the setting)."""
    outcome: dict[str, str | None] = {}
    for silence_id in silence_ids:
        try:
            client.expire_silence(silence_id)
            outcome[silence_id] = None
        except PromAPIError as exc:
            if not exc.answered:
                raise
            outcome[silence_id] = exc.detail or str(exc)
    return outcome


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def as_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "state": silence.state,
        "matchers": [format_matcher(m) for m in silence.matcher_list],
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "author": silence.created_by,
        "comment": silence.comment,
    }


def _when(text: str, now: datetime) -> str:
    at = _time(text)
    left = (at - now).total_seconds()
    shown = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if left <= 0:
        return shown
    # Whole minutes past the first one: "in 1h59m", not "in 1h59m12.345s".
    return f"{shown} (in {units.format_duration(left if left < 60 else round(left / 60) * 60)})"


def render(silences: Sequence[Silence], every: bool = False, now: datetime | None = None) -> str:
    if not silences:
        return (
            "no silence"
            if every
            else "no active or pending silence (`airscope silence list --all`: expired too)"
        )
    now = now or datetime.now(UTC)
    # A block per silence, not a table row: an id is 36 characters, and matchers and comments are as
    # long as people make them, so one row each would wrap at 80 columns.
    blocks = [
        f"{s.id}  {s.state}  ends {_when(s.ends_at, now)}  by {s.created_by or '?'}\n"
        f"  matchers: {' '.join(format_matcher(m) for m in s.matcher_list)}\n"
        f"  comment:  {s.comment}"
        for s in silences
    ]
    return "\n".join(blocks)
