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
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

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


def _tables(client: httpx.Client) -> int:
    page = client.get(f"/api/airtable/bases/{DEMO_BASE}/tables")
    page.raise_for_status()
    return len(page.json()["tables"])


def grow(standin_url: str, tables: int) -> dict[str, Any]:
    answer = httpx.post(
        f"{standin_url}/_admin/bases/{DEMO_BASE}/grow",
        json={"tables": tables, "records_per_table": GROW_RECORDS_PER_TABLE},
        timeout=120,
    )
    answer.raise_for_status()
    return answer.json()


def measure(gateway: str, api_key: str) -> dict[str, Any]:
    """One chat per question; what each cost and answered."""
    rows = []
    with httpx.Client(
        base_url=gateway, headers={"X-API-Key": api_key}, timeout=CHAT_TIMEOUT_SECONDS
    ) as client:
        tables = _tables(client)
        for question in QUESTIONS:
            response = client.post("/api/chat", json={"message": question})
            if response.status_code != 200:
                raise click.ClickException(
                    f"the chat {question!r} answered {response.status_code}: {response.text[:300]}"
                )
            body = response.json()
            rows.append(
                {
                    "question": question,
                    "input_tokens": body["usage"]["input_tokens"],
                    "tools": [call["tool"] for call in body["tool_calls"]],
                    "answer": body["answer"],
                }
            )
    return {"tables": tables, "chats": rows}


def _commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip()


def record(kept: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The kept document with this run as the newest figures for its number of tables."""
    runs = [r for r in kept.get("runs", []) if r["tables"] != run["tables"]]
    stamped = {**run, "measured_at": datetime.now(UTC).strftime("%Y-%m-%d"), "commit": _commit()}
    stamped["python"] = platform.python_version()
    return {**kept, "runs": sorted([*runs, stamped], key=lambda r: r["tables"])}


def _before(kept: dict[str, Any], tables: int) -> dict[str, int]:
    found = next((b for b in kept.get("before", []) if b["tables"] == tables), None)
    return {row["question"]: row["input_tokens"] for row in found["chats"]} if found else {}


def table_lines(kept: dict[str, Any]) -> list[str]:
    """One Markdown table per measured base size: tokens now beside those before issue 16."""
    lines = []
    for run in kept.get("runs", []):
        before = _before(kept, run["tables"])
        lines += [
            f"Demo base with {run['tables']} tables ({run['measured_at']}, commit {run['commit']}):",
            "",
            "| question | tools | input tokens | before | now / before |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for row in run["chats"]:
            was = before.get(row["question"])
            ratio = f"{row['input_tokens'] / was:.2f}" if was else "-"
            lines.append(
                f"| {row['question']} | {', '.join(row['tools']) or '-'} | {row['input_tokens']:,} | "
                f"{f'{was:,}' if was else '-'} | {ratio} |"
            )
        lines.append("")
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
    lines = [
        f"demo base: {run['tables']} tables",
        f"{'question':<40} {'tokens':>7} {'before':>7} {'ratio':>6}",
    ]
    for row in run["chats"]:
        was = before.get(row["question"])
        ratio = f"{row['input_tokens'] / was:.2f}" if was else "-"
        lines.append(
            f"{row['question'][:40]:<40} {row['input_tokens']:>7,} {f'{was:,}' if was else '-':>7} {ratio:>6}"
        )
    return "\n".join(lines)


@click.command("chat-tokens")
@click.option(
    "--grow",
    "grow_tables",
    default=0,
    show_default=True,
    type=click.IntRange(0, 500),
    help="First add this many tables of 100 records to the demo base (the Airtable stand-in only; "
    "the base keeps them).",
)
@click.option("--write/--no-write", default=True, show_default=True, help=f"Keep the figures in {JSON_PATH}.")
def chat_tokens_command(grow_tables: int, write: bool) -> None:
    """Input tokens per chat for the first questions a user asks, on the running platform (`make up`),
    beside the figures from before issue 16; docs/performance-baselines.md shows them."""
    from airscope import checkout
    from airscope.bench import baselines
    from airscope.local import load, ports

    if grow_tables:
        standin = f"http://127.0.0.1:{ports.port_for('standin-airtable', 7090)}"
        try:
            grown = grow(standin, grow_tables)
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"the Airtable stand-in at {standin} could not grow the demo base ({exc}); it runs only "
                "when AIRTABLE_API_URL is unset: `make up` first"
            ) from None
        click.echo(f"grew the demo base by {grown['tables_created']} tables", err=True)
    try:
        run = measure(load.default_gateway(), load.api_key())
    except httpx.HTTPError as exc:
        raise click.ClickException(f"the platform did not answer ({exc}): `make up` first") from None
    root = checkout.root()
    path = root / JSON_PATH
    kept = json.loads(path.read_text()) if path.exists() else {}
    click.echo(render_terminal(run, kept))
    if write:
        path.write_text(json.dumps(record(kept, run), indent=2) + "\n")
        click.echo(f"wrote {path}", err=True)
        kept_baselines = json.loads((root / baselines.JSON_PATH).read_text())
        click.echo(f"wrote {baselines.render_markdown(kept_baselines, root)}", err=True)
