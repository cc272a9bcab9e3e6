"""Reading the conversation: the goal, the base, the tool calls made for the goal and their
results (parsed as JSON), and the shapes of the MCP tools' results."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airscope.standins.llm.rules.goal import BASE_ID

_TABLE_NOT_FOUND = re.compile(r"\btable '[^']*' not found\b")


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """Either a text answer or one tool call."""

    text: str | None = None
    tool_call: ToolCall | None = None


@dataclass(frozen=True)
class Result:
    """One tool result: which call it answers and its content, parsed as JSON when it is."""

    tool: str
    arguments: dict[str, Any]
    value: Any
    for_goal: bool

    @property
    def ok(self) -> bool:
        return tool_failure(self.tool, self.value) is None


@dataclass(frozen=True)
class TableInfo:
    name: str
    primary: str | None
    fields: dict[str, str]  # field name -> type, in the table's order


@dataclass
class Conversation:
    """What the rules read from the messages."""

    goal: str | None = None
    base_id: str | None = None
    results: list[Result] = field(default_factory=list)  # oldest first
    calls_for_goal: list[ToolCall] = field(default_factory=list)  # since the goal, oldest first
    # Text that may name a base: earlier user messages, the assistant's call arguments, the system
    # prompt; newest first. Never tool results, never the assistant's answers (they quote data).
    trusted: list[str] = field(default_factory=list)

    def latest(self, tool: str, *, for_goal: bool = False) -> dict[str, Any] | None:
        """The newest successful result of the tool (a failed one is no knowledge)."""
        result = self.latest_result(tool, for_goal=for_goal)
        return None if result is None else result.value

    def latest_result(self, tool: str, *, for_goal: bool = False, **arguments: Any) -> Result | None:
        return next(
            (
                r
                for r in reversed(self.results)
                if r.tool == tool
                and r.ok
                and (r.for_goal or not for_goal)
                and all(r.arguments.get(k) == v for k, v in arguments.items())
            ),
            None,
        )

    def called(self, name: str) -> int:
        return sum(1 for c in self.calls_for_goal if c.name == name)

    def only_guessed(self, name: str) -> bool:
        """Whether every call of the tool for this goal named a table it did not find (a guess)."""
        results = [r for r in self.results if r.for_goal and r.tool == name]
        return bool(results) and all(missed_table(r) for r in results)


def content_text(message: Mapping[str, Any]) -> str:
    """A message's content as text (OpenAI allows a string or a list of text parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def offered_tools(tools: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return [t["function"]["name"] for t in tools or () if t.get("type") == "function" and "function" in t]


# Reading the conversation ------------------------------------------------------------------------


def _parse_result(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    raw = call.get("function", {}).get("arguments", "")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) and raw else raw
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def read(messages: Sequence[Mapping[str, Any]]) -> Conversation:
    conversation = Conversation()
    calls: dict[str, ToolCall] = {}
    goal_index = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    for index, message in enumerate(messages):
        role = message.get("role")
        after_goal = goal_index >= 0 and index > goal_index
        if role == "user":
            conversation.goal = content_text(message)
        elif role == "assistant":
            for raw in message.get("tool_calls") or ():
                call = ToolCall(raw.get("function", {}).get("name", ""), _arguments(raw))
                calls[raw.get("id", "")] = call
                if after_goal:
                    conversation.calls_for_goal.append(call)
        elif role == "tool":
            call = calls.get(message.get("tool_call_id", ""), ToolCall(message.get("name", ""), {}))
            value = _parse_result(content_text(message))
            conversation.results.append(Result(call.name, call.arguments, value, after_goal))
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        role = message.get("role")
        if role in ("system", "developer") or (role == "user" and index != goal_index):
            conversation.trusted.append(content_text(message))
        elif role == "assistant":
            for raw in reversed(message.get("tool_calls") or ()):
                base_id = _arguments(raw).get("base_id")
                if isinstance(base_id, str):
                    conversation.trusted.append(base_id)
    conversation.base_id = _base_id(conversation)
    return conversation


def known_bases(conversation: Conversation) -> list[dict[str, Any]]:
    bases = (conversation.latest("list_bases") or {}).get("bases", [])
    return [b for b in bases if isinstance(b, dict) and isinstance(b.get("id"), str)]


def _base_id(conversation: Conversation) -> str | None:
    goal = conversation.goal or ""
    if match := BASE_ID.search(goal):
        return match.group(0)
    bases = known_bases(conversation)
    text = goal.lower()
    named = [
        b for b in bases if b.get("name") and re.search(rf"\b{re.escape(str(b['name']).lower())}\b", text)
    ]
    if named:
        return max(named, key=lambda b: len(str(b["name"])))["id"]
    for text in conversation.trusted:
        if match := BASE_ID.search(text):
            return match.group(0)
    return bases[0]["id"] if bases else None


def missed_table(result: Result) -> bool:
    """A call that failed because its table is not in the base (mcp-server: "table 'x' not found")."""
    return not result.ok and isinstance(result.value, str) and bool(_TABLE_NOT_FOUND.search(result.value))


def tool_failure(name: str, value: Any) -> str | None:
    if isinstance(value, dict) and "error" not in value:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return f"The tool {name} failed: {text[:300]}"


# Reading tool results ----------------------------------------------------------------------------


def table_info(entry: Mapping[str, Any]) -> TableInfo:
    """A ``list_tables`` entry: the new shape (``fields`` as name -> type, ``primary_field``) or
    Airtable's (``fields`` as a list of ``{"id", "name", "type"}``, ``primaryFieldId``)."""
    raw = entry.get("fields")
    primary = entry.get("primary_field")
    fields: dict[str, str] = {}
    if isinstance(raw, dict):
        fields = {str(k): str(v) for k, v in raw.items()}
    elif isinstance(raw, list):
        for f in raw:
            if isinstance(f, dict) and f.get("name"):
                fields[str(f["name"])] = str(f.get("type", ""))
                if primary is None and f.get("id") and f.get("id") == entry.get("primaryFieldId"):
                    primary = f["name"]
    if not isinstance(primary, str) or not primary:
        primary = next(iter(fields), None)
    return TableInfo(str(entry.get("name", "?")), primary, fields)


def listed_tables(result: Mapping[str, Any]) -> list[TableInfo]:
    return [table_info(t) for t in result.get("tables", []) if isinstance(t, dict)]


def omitted_count(result: Mapping[str, Any], key: str) -> int:
    omitted = result.get("omitted")
    value = omitted.get(key, 0) if isinstance(omitted, dict) else 0
    return value if isinstance(value, int) else 0


def tables_partial(result: Mapping[str, Any]) -> bool:
    total = result.get("total")
    shown = len(result.get("tables", []))
    return (
        result.get("next_offset") is not None
        or omitted_count(result, "tables") > 0
        or (isinstance(total, int) and total > shown)
    )


def too_large(value: Any) -> bool:
    """A result the orchestrator could not fit even by whole items: ``{"omitted": {"result": n}}``."""
    return (
        isinstance(value, dict)
        and omitted_count(value, "result") > 0
        and not any(isinstance(v, list) and v for v in value.values())
    )
