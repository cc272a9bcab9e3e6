"""The mix plan: which actions a load sends, drawn in schedule order from ``Random(seed)``.

Every random choice is made here, when the action is planned, so a seed plans the same actions
whatever the platform answers. Only names that must be fresh on every run (emails, workspace names,
generated rows) carry a per-run tag.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from typing import Any

from airscope.standins.airtable.seed import BASE_ID, SeedTable
from airscope.standins.airtable.seed import TABLES as SEED_TABLES

# Chat and Airtable reads are what users mostly do; a saga is a rare, heavy operation.
WEIGHTS = {"chat": 30, "records": 30, "auth": 15, "uploads": 10, "health": 10, "sagas": 5}
# Records: reads dominate; a write now and then (it also invalidates the gateway's read cache).
RECORD_KINDS = {"list_bases": 15, "list_tables": 20, "list_records": 55, "create_record": 10}
AUTH_KINDS = {"register": 25, "login": 55, "wrong_password": 20}
TOKEN_SHARE = 0.3  # authenticated actions sent with a login's bearer token instead of the API key
SESSION_READ_SHARE = 0.1  # chats followed by a read of their session's history

TABLES = {table.name: table for table in SEED_TABLES}

# Each one makes the LLM stand-in call tools (see standins/llm/rules/), except the last.
CHAT_MESSAGES = (
    "Which bases do I have?",
    "List my bases, please.",
    f"What tables are in base {BASE_ID}?",
    "Show me the schema of my base.",
    "How many records are in Orders?",
    f"How many customers are there in {BASE_ID}?",
    "Count the products.",
    "Find customers named Ada",
    'Search orders for "Grace Hopper"',
    "Show the products called Sensor Kit",
    "Hello! What can you do?",
)

AUTHENTICATED_FLOWS = frozenset({"chat", "records", "uploads", "sagas"})  # auth and health are public


@dataclass(frozen=True)
class Action:
    """One planned user action: ``flow`` of ``WEIGHTS``, ``kind`` its variant, ``params`` drawn."""

    seq: int
    flow: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Mix:
    """Plans actions one after another from ``Random(seed)``; ``tag`` makes names unique per run."""

    def __init__(self, seed: int, tag: str, weights: dict[str, int] = WEIGHTS) -> None:
        self.rng = random.Random(seed)
        self.tag = tag
        self.weights = weights
        self.seq = 0

    def next(self) -> Action:
        seq, self.seq = self.seq, self.seq + 1
        flow = _pick(self.rng, self.weights)
        kind, params = getattr(self, "_" + flow)(seq)
        if flow in AUTHENTICATED_FLOWS:
            params["use_token"] = self.rng.random() < TOKEN_SHARE
        return Action(seq, flow, kind, params)

    def _chat(self, seq: int) -> tuple[str, dict[str, Any]]:
        return "chat", {
            "message": self.rng.choice(CHAT_MESSAGES),
            "read_session": self.rng.random() < SESSION_READ_SHARE,
        }

    def _records(self, seq: int) -> tuple[str, dict[str, Any]]:
        kind = _pick(self.rng, RECORD_KINDS)
        if kind == "list_records":
            return kind, {
                "table": self.rng.choice(list(TABLES)),
                "max_records": self.rng.choice((10, 25, 50)),
            }
        if kind == "create_record":
            table = TABLES[self.rng.choice(list(TABLES))]
            return kind, {"table": table.name, "fields": fake_row(table, self.rng, f"{self.tag}-{seq}")}
        return kind, {}

    def _auth(self, seq: int) -> tuple[str, dict[str, Any]]:
        # Every auth action carries a fresh account: a login finding none registered yet registers it.
        return _pick(self.rng, AUTH_KINDS), {
            "email": f"load-{self.tag}-{seq}@example.com",
            "password": f"load-{self.tag}-{seq}-{self.rng.randrange(10**6):06d}",
            "pick": self.rng.random(),
        }

    def _uploads(self, seq: int) -> tuple[str, dict[str, Any]]:
        table = TABLES[self.rng.choice(list(TABLES))]
        rows = [fake_row(table, self.rng, f"{self.tag}-{seq}-{i}") for i in range(self.rng.randint(1, 5))]
        return "upload", {
            "table": table.name,
            "filename": f"load-{self.tag}-{seq}.csv",
            "csv": to_csv(table, rows),
            "rows": len(rows),
        }

    def _health(self, seq: int) -> tuple[str, dict[str, Any]]:
        return "health", {}

    def _sagas(self, seq: int) -> tuple[str, dict[str, Any]]:
        return "saga", {"workspace_name": f"load-{self.tag}-{seq}"}


def fake_row(table: SeedTable, rng: random.Random, label: str) -> dict[str, Any]:
    """A row every field of ``table`` accepts as is, built from the seed's field types."""
    row: dict[str, Any] = {}
    for spec in table.fields:
        if spec.type == "email":
            row[spec.name] = f"load-{label}@example.com"
        elif spec.type == "number":
            precision = (spec.options or {}).get("precision", 0)
            row[spec.name] = round(rng.uniform(1, 500), precision) if precision else rng.randint(1, 50)
        elif spec.type == "singleSelect":
            row[spec.name] = rng.choice([choice["name"] for choice in spec.options["choices"]])
        elif spec.type == "date":
            row[spec.name] = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            row[spec.name] = f"Load {spec.name} {label}"
    return row


def to_csv(table: SeedTable, rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[spec.name for spec in table.fields], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
