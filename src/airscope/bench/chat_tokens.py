"""``airscope bench chat-tokens``: the input tokens one chat costs, per question, on the base as it is.

Each of the chats a user asks first (the README's, issue 16's) goes once through the gateway of the
running platform; the answer's ``usage.input_tokens`` is what the provider counted over every
completion of the chat (the LLM stand-in: a token per 4 characters of messages and tool schemas, so a
figure changes only when what is sent changes). ``--grow N`` first adds N tables of 100 records to
the demo base through the Airtable stand-in's grow endpoint, the base issue 16 found the chat failing
on. The figures go to ``docs/performance/chat-tokens.json`` beside the ones measured before issue 16,
and docs/performance-baselines.md shows both (``markdown_section``).
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from airscope import tables
from airscope.bench import BenchError
from airscope.bench.counters import commit

JSON_PATH = "docs/performance/chat-tokens.json"
QUESTIONS = (
    "List the tables in my base",
    "How many records are in Orders?",
    "Find customers named Ada",
    "Show me three customers",
    "What is the total Amount of Orders?",
)
DEMO_BASE = "appAirscopeDemo01"
GROW_RECORDS_PER_TABLE = 100
CHAT_TIMEOUT_SECONDS = 60.0


def _table_count(client: httpx.Client) -> int:
    page = client.get(f"/api/airtable/bases/{DEMO_BASE}/tables")
    page.raise_for_status()
    return len(page.json()["tables"])


def grow(standin_url: str, tables: int) -> dict[str, Any]:
    """Adds ``tables`` tables of GROW_RECORDS_PER_TABLE records to the demo base of the Airtable stand-in."""
    try:
        answer = httpx.post(
            f"{standin_url}/_admin/bases/{DEMO_BASE}/grow",
            json={"tables": tables, "records_per_table": GROW_RECORDS_PER_TABLE},
            timeout=120,
        )
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        raise BenchError(
            f"the Airtable stand-in at {standin_url} could not grow the demo base ({exc}); it runs only "
            "when AIRTABLE_API_URL is unset: `make up` first"
        ) from None
    return answer.json()


def measure(gateway: str, api_key: str) -> dict[str, Any]:
    """One chat per question; what each cost and answered."""
    rows = []
    try:
        with httpx.Client(
            base_url=gateway, headers={"X-API-Key": api_key}, timeout=CHAT_TIMEOUT_SECONDS
        ) as client:
            count = _table_count(client)
            for question in QUESTIONS:
                rows.append(_chat(client, question))
    except httpx.HTTPError as exc:
        raise BenchError(f"the platform did not answer ({exc}): `make up` first") from None
    return {"tables": count, "chats": rows}


def _chat(client: httpx.Client, question: str) -> dict[str, Any]:
    response = client.post("/api/chat", json={"message": question})
    if response.status_code != 200:
        raise BenchError(f"the chat {question!r} answered {response.status_code}: {response.text[:300]}")
    body = response.json()
    return {
        "question": question,
        "input_tokens": body["usage"]["input_tokens"],
        "tools": [call["tool"] for call in body["tool_calls"]],
        "answer": body["answer"],
    }


def record(kept: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The kept document with this run as the newest figures for its number of tables."""
    runs = [r for r in kept.get("runs", []) if r["tables"] != run["tables"]]
    stamped = {**run, "measured_at": datetime.now(UTC).strftime("%Y-%m-%d"), "commit": commit()}
    stamped["python"] = platform.python_version()
    return {**kept, "runs": sorted([*runs, stamped], key=lambda r: r["tables"])}


def _before(kept: dict[str, Any], size: int) -> dict[str, int]:
    found = next((b for b in kept.get("before", []) if b["tables"] == size), None)
    return {row["question"]: row["input_tokens"] for row in found["chats"]} if found else {}


def _ratio(now: int, was: int | None) -> str:
    return f"{now / was:.2f}" if was else "-"


def table_lines(kept: dict[str, Any]) -> list[str]:
    """One Markdown table per measured base size: tokens now beside those before issue 16."""
    lines = []
    for run in kept.get("runs", []):
        before = _before(kept, run["tables"])
        rows = []
        for row in run["chats"]:
            was = before.get(row["question"])
            tools = ", ".join(row["tools"]) or "-"
            tokens = row["input_tokens"]
            rows.append(
                (row["question"], tools, f"{tokens:,}", f"{was:,}" if was else "-", _ratio(tokens, was))
            )
        header = ("question", "tools", "input tokens", "before", "now / before")
        lines += [
            f"Demo base with {run['tables']} tables ({run['measured_at']}, commit {run['commit']}):",
            "",
            *tables.markdown(header, rows, align="llrrr").splitlines(),
            "",
        ]
    return lines


def markdown_section(root: Path) -> list[str]:
    """The section of docs/performance-baselines.md, from the kept JSON (none when it is absent)."""
    try:
        kept = json.loads((root / JSON_PATH).read_text())
    except FileNotFoundError:
        return []
    return [
        "## Input tokens per chat",
        "",
        "From `airscope bench chat-tokens` (its own run; [chat-tokens.json](performance/chat-tokens.json)): "
        "the input tokens of one chat, every completion summed, as the LLM stand-in counts them (a token per "
        "4 characters sent). *Before* is the same question before issue 16 ("
        f"{kept.get('before_note', '')}). Issue 16's goal: at most a third of before.",
        "",
        *table_lines(kept),
    ]


def render_terminal(run: dict[str, Any], kept: dict[str, Any]) -> str:
    before = _before(kept, run["tables"])
    rows = []
    for row in run["chats"]:
        was = before.get(row["question"])
        tokens = row["input_tokens"]
        rows.append((row["question"], f"{tokens:,}", f"{was:,}" if was else "-", _ratio(tokens, was)))
    table = tables.text(("question", "tokens", "before", "ratio"), rows, align="lrrr")
    return f"demo base: {run['tables']} tables\n{table}"
