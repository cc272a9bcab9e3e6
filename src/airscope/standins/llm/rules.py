"""The LLM stand-in's deterministic rules: which tool to call next, or which text to answer.

Pure functions over the OpenAI chat messages and the tool names the request offers; a tool is only
ever called when it is offered. The *goal* is the last user message, read case-insensitively:

1. "tables" or "schema" → ``list_tables(base_id)``; answered as
   "The base Airscope Demo has 3 tables: Customers, Orders, Products."
2. "bases" → ``list_bases()``; answered as "You have 1 base: Airscope Demo (appAirscopeDemo01)."
3. "count" or "how many" → ``count_records(base_id, table)``; "There are 30 records in Orders."
4. "find", "search", "show", "record(s)" → ``search_records(base_id, table[, query])``;
   "Found 2 records in Customers matching "ada": Ada Lovelace, ...". The query is the quoted text of
   the goal, else what follows its last "named", "called", "matching", "containing", "for" or "about".
5. Anything else → a short help text, no tool.

What a goal needs first is called first, one tool per reply:

- the base id: any ``app`` + 14 letters/digits in the conversation (the goal first, then the
  newest message backwards, tool results included); without one, ``list_bases`` is called and its
  result supplies the id;
- for count and search, the table: a table name from the newest ``list_tables`` result that the
  goal mentions (case-insensitive; "order" also matches "Orders"); without a table list,
  ``list_tables`` is called first. When the goal names none of the tables, the answer lists them.

Each tool is called at most once per goal (since the last user message), so a conversation always
ends in a text answer. Answers are built from the tool results: the ``content`` of a ``tool``
message parsed as JSON (``{"bases": [...]}``, ``{"tables": [...]}``, ``{"records": [...]}``,
``{"count": n}``); a result that is not a JSON object, or has an ``error`` key, is answered as
"The tool <name> failed: <its text>".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BASE_ID = re.compile(r"\bapp[A-Za-z0-9]{14}\b")
HELP = (
    "I can answer questions about your Airtable data: ask me to list your bases or the tables of a base, "
    "to count the records of a table, or to search a table."
)
_MAX_NAMES = 10

_INTENTS = (
    ("tables", re.compile(r"\b(tables|schema)\b")),
    ("bases", re.compile(r"\bbases\b")),
    ("count", re.compile(r"\b(count|how many)\b")),
    ("search", re.compile(r"\b(find|search|show|records?)\b")),
)
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|'([^']+)'")
_AFTER_KEYWORD = re.compile(r".*\b(?:named|called|matching|containing|for|about)\s+(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """Either a text answer or one tool call."""

    text: str | None = None
    tool_call: ToolCall | None = None


@dataclass
class Conversation:
    """What the rules read from the messages."""

    goal: str | None = None
    base_id: str | None = None
    # (tool name, parsed result), oldest first: all of them, and those since the goal.
    results: list[tuple[str, Any]] = field(default_factory=list)
    results_for_goal: list[tuple[str, Any]] = field(default_factory=list)
    called_for_goal: set[str] = field(default_factory=set)

    def latest(self, tool: str, *, for_goal: bool = False) -> dict[str, Any] | None:
        """The newest successful result of the tool (a failed one is no knowledge)."""
        results = self.results_for_goal if for_goal else self.results
        return next(
            (value for name, value in reversed(results) if name == tool and _failure(name, value) is None),
            None,
        )


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


def intent(goal: str) -> str | None:
    text = goal.lower()
    return next((name for name, pattern in _INTENTS if pattern.search(text)), None)


def search_query(goal: str) -> str:
    if quoted := _QUOTED.search(goal):
        return next(group for group in quoted.groups() if group)
    if after := _AFTER_KEYWORD.match(goal.strip()):
        return after.group(1).strip().rstrip("?.!").strip()
    return ""


def mentioned_table(goal: str, tables: Sequence[str]) -> str | None:
    text = goal.lower()
    for name in tables:
        forms = {name.lower(), name.lower().removesuffix("s")}
        if any(re.search(rf"\b{re.escape(form)}\b", text) for form in forms if form):
            return name
    return None


def _parse_result(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def read(messages: Sequence[Mapping[str, Any]]) -> Conversation:
    conversation = Conversation()
    tool_names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "user":
            conversation.goal = content_text(message)
            conversation.results_for_goal, conversation.called_for_goal = [], set()
        elif role == "assistant":
            for call in message.get("tool_calls") or ():
                name = call.get("function", {}).get("name", "")
                tool_names[call.get("id", "")] = name
                conversation.called_for_goal.add(name)
        elif role == "tool":
            name = tool_names.get(message.get("tool_call_id", ""), message.get("name", ""))
            result = (name, _parse_result(content_text(message)))
            conversation.results.append(result)
            conversation.results_for_goal.append(result)
    conversation.base_id = _base_id(conversation.goal, messages)
    return conversation


def _base_id(goal: str | None, messages: Sequence[Mapping[str, Any]]) -> str | None:
    texts = [goal or ""]
    for message in reversed(messages):
        texts.append(content_text(message))
        texts.extend(
            call.get("function", {}).get("arguments", "") for call in message.get("tool_calls") or ()
        )
    return next((match.group(0) for text in texts if (match := BASE_ID.search(text))), None)


def _failure(name: str, value: Any) -> str | None:
    if isinstance(value, dict) and "error" not in value:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return f"The tool {name} failed: {text[:300]}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown if len(names) <= _MAX_NAMES else f"{shown} and {len(names) - _MAX_NAMES} more"


def answer_bases(result: dict[str, Any]) -> str:
    bases = result.get("bases", [])
    if not bases:
        return "You have no bases."
    listed = [f"{b.get('name', '?')} ({b.get('id', '?')})" for b in bases]
    return f"You have {_plural(len(bases), 'base')}: {_names(listed)}."


def answer_tables(result: dict[str, Any], base_name: str) -> str:
    names = [t.get("name", "?") for t in result.get("tables", [])]
    if not names:
        return f"The base {base_name} has no tables."
    return f"The base {base_name} has {_plural(len(names), 'table')}: {_names(names)}."


def answer_count(result: dict[str, Any], table: str) -> str:
    count = result.get("count", 0)
    return f"There is 1 record in {table}." if count == 1 else f"There are {count} records in {table}."


def answer_search(result: dict[str, Any], table: str, query: str) -> str:
    records = result.get("records", [])
    titles = [str(next(iter(r.get("fields", {}).values()), r.get("id", "?"))) for r in records]
    matching = f' matching "{query}"' if query else ""
    if not titles:
        return f"Found no records in {table}{matching}."
    return f"Found {_plural(len(titles), 'record')} in {table}{matching}: {_names(titles)}."


def _base_name(conversation: Conversation) -> str:
    bases = conversation.latest("list_bases") or {}
    for base in bases.get("bases", []):
        if base.get("id") == conversation.base_id:
            return base.get("name", conversation.base_id)
    return conversation.base_id or "?"


def decide(messages: Sequence[Mapping[str, Any]], tools: Sequence[str]) -> Reply:
    """The stand-in's next reply to the conversation, calling only tools named in ``tools``."""
    conversation = read(messages)
    if messages and messages[-1].get("role") == "tool" and conversation.results:
        failure = _failure(*conversation.results[-1])
        if failure:
            return Reply(text=failure)
    goal = conversation.goal
    kind = intent(goal) if goal else None
    if goal is None or kind is None:
        return Reply(text=HELP)

    called = conversation.called_for_goal

    def call(name: str, **arguments: Any) -> Reply:
        if name in called:  # it gave nothing usable already; asking again would loop
            return Reply(text=f"I could not find what I needed with {name}.")
        if name not in tools:
            return Reply(text=f"I would need the {name} tool to answer that, and it is not available.")
        return Reply(tool_call=ToolCall(name, arguments))

    if kind == "bases":
        bases = conversation.latest("list_bases", for_goal=True)
        return call("list_bases") if bases is None else Reply(text=answer_bases(bases))
    base_id = conversation.base_id
    if base_id is None:
        return call("list_bases")
    if kind == "tables":
        result = conversation.latest("list_tables", for_goal=True)
        if result is None:
            return call("list_tables", base_id=base_id)
        return Reply(text=answer_tables(result, _base_name(conversation)))

    # Count and search need a table the goal names, out of the newest table list.
    tables = conversation.latest("list_tables")
    if tables is None:
        return call("list_tables", base_id=base_id)
    table = mentioned_table(goal, [t.get("name", "") for t in tables.get("tables", [])])
    if table is None:
        return Reply(text=answer_tables(tables, _base_name(conversation)) + " Which table do you mean?")
    if kind == "count":
        counted = conversation.latest("count_records", for_goal=True)
        if counted is None:
            return call("count_records", base_id=base_id, table=table)
        return Reply(text=answer_count(counted, table))
    query = search_query(goal)
    found = conversation.latest("search_records", for_goal=True)
    if found is not None:
        return Reply(text=answer_search(found, table, query))
    return call("search_records", base_id=base_id, table=table, **({"query": query} if query else {}))
