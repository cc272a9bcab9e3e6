"""The bases every stand-in database has: seeded when the file is new, and added to an older file
that lacks one (a ``var/`` made before ``appAirscopeLoad01`` existed has the demo base alone).

- "Airscope Demo" (``appAirscopeDemo01``): three tables — Customers (24 records), Orders (30),
  Products (12) — with text, email, number, date and single-select fields. Records are made from
  fixed lists, so every start seeds the same data (same record IDs too), and there are enough rows to
  page through with a small ``pageSize``. The README's chat answers and the tests read it as seeded.
- "Airscope Load" (``appAirscopeLoad01``): where ``airscope load``'s onboarding sagas add their
  "<workspace> Tasks" tables, so the demo base keeps its three. An Airtable base always has at least
  one table (its API creates a base only with tables, and the last table cannot be deleted), so it
  starts with one small table, "About" (one record saying what the base is for).

The grown tables (``POST /_admin/bases/{baseId}/grow``) are made here too: "Grown 001", "Grown 002",
... with the fields ``GROWN_FIELDS`` and deterministic records (``grown_row``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from airscope.standins.airtable.model import NewField

BASE_ID = "appAirscopeDemo01"
BASE_NAME = "Airscope Demo"
LOAD_BASE_ID = "appAirscopeLoad01"
LOAD_BASE_NAME = "Airscope Load"


@dataclass(frozen=True)
class SeedTable:
    name: str
    fields: tuple[NewField, ...]  # the first one is the primary field
    rows: tuple[dict[str, Any], ...]


def _choices(*names: str) -> dict[str, Any]:
    return {"choices": [{"name": name} for name in names]}


_CUSTOMERS = (
    ("Ada Lovelace", "London"),
    ("Alan Turing", "Manchester"),
    ("Grace Hopper", "New York"),
    ("Katherine Johnson", "Hampton"),
    ("Edsger Dijkstra", "Eindhoven"),
    ("Barbara Liskov", "Boston"),
    ("Donald Knuth", "Stanford"),
    ("Margaret Hamilton", "Cambridge"),
    ("Linus Torvalds", "Portland"),
    ("Frances Allen", "Peru"),
    ("John McCarthy", "Boston"),
    ("Radia Perlman", "Seattle"),
    ("Tim Berners-Lee", "London"),
    ("Hedy Lamarr", "Vienna"),
    ("Ken Thompson", "Berkeley"),
    ("Dennis Ritchie", "Murray Hill"),
    ("Anita Borg", "Palo Alto"),
    ("Guido van Rossum", "Amsterdam"),
    ("Shafi Goldwasser", "Berkeley"),
    ("Leslie Lamport", "Redmond"),
    ("Sophie Wilson", "Cambridge"),
    ("Niklaus Wirth", "Zurich"),
    ("Karen Sparck Jones", "Cambridge"),
    ("Bjarne Stroustrup", "New York"),
)
_TIERS = ("Bronze", "Silver", "Gold")

_PRODUCTS = (
    ("Sensor Kit", "Hardware", 149.0),
    ("Gateway Box", "Hardware", 399.0),
    ("Cable Pack", "Hardware", 19.5),
    ("Dashboard Pro", "Software", 49.0),
    ("Alerting Add-on", "Software", 29.0),
    ("Data Export", "Software", 15.0),
    ("Setup Service", "Service", 250.0),
    ("Support Plan", "Service", 120.0),
    ("Training Day", "Service", 800.0),
    ("Spare Battery", "Hardware", 12.0),
    ("Mounting Bracket", "Hardware", 8.75),
    ("API Access", "Software", 99.0),
)
_STATUSES = ("Pending", "Shipped", "Delivered", "Cancelled")

CUSTOMERS = SeedTable(
    name="Customers",
    fields=(
        NewField("Name", "singleLineText"),
        NewField("Email", "email"),
        NewField("City", "singleLineText"),
        NewField("Tier", "singleSelect", _choices(*_TIERS)),
        NewField("Customer Since", "date", {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}),
    ),
    rows=tuple(
        {
            "Name": name,
            "Email": name.lower().replace(" ", ".") + "@example.com",
            "City": city,
            "Tier": _TIERS[i % 3],
            "Customer Since": f"20{18 + i % 6}-{1 + i % 12:02d}-{1 + (i * 7) % 28:02d}",
        }
        for i, (name, city) in enumerate(_CUSTOMERS)
    ),
)

PRODUCTS = SeedTable(
    name="Products",
    fields=(
        NewField("Name", "singleLineText"),
        NewField("SKU", "singleLineText"),
        NewField("Category", "singleSelect", _choices("Hardware", "Software", "Service")),
        NewField("Price", "number", {"precision": 2}),
        NewField("Stock", "number", {"precision": 0}),
    ),
    rows=tuple(
        {"Name": name, "SKU": f"SKU-{100 + i}", "Category": category, "Price": price, "Stock": (i * 13) % 40}
        for i, (name, category, price) in enumerate(_PRODUCTS)
    ),
)

ORDERS = SeedTable(
    name="Orders",
    fields=(
        NewField("Order", "singleLineText"),
        NewField("Customer", "singleLineText"),
        NewField("Product", "singleLineText"),
        NewField("Quantity", "number", {"precision": 0}),
        NewField("Amount", "number", {"precision": 2}),
        NewField("Status", "singleSelect", _choices(*_STATUSES)),
        NewField("Order Date", "date", {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}),
    ),
    rows=tuple(
        {
            "Order": f"ORD-{1001 + i}",
            "Customer": _CUSTOMERS[(i * 5) % len(_CUSTOMERS)][0],
            "Product": _PRODUCTS[(i * 7) % len(_PRODUCTS)][0],
            "Quantity": 1 + i % 4,
            "Amount": round((1 + i % 4) * _PRODUCTS[(i * 7) % len(_PRODUCTS)][2], 2),
            "Status": _STATUSES[i % 4],
            "Order Date": f"2025-{1 + i % 12:02d}-{1 + (i * 3) % 28:02d}",
        }
        for i in range(30)
    ),
)

TABLES = (CUSTOMERS, ORDERS, PRODUCTS)

ABOUT = SeedTable(
    name="About",
    fields=(NewField("Name", "singleLineText"), NewField("Notes", "multilineText")),
    rows=(
        {
            "Name": "Airscope Load",
            "Notes": 'The base of `airscope load`: its onboarding sagas add their "<workspace> Tasks" '
            "tables here, so the demo base keeps its three tables.",
        },
    ),
)


@dataclass(frozen=True)
class SeedBase:
    id: str
    name: str
    tables: tuple[SeedTable, ...]


BASES = (SeedBase(BASE_ID, BASE_NAME, TABLES), SeedBase(LOAD_BASE_ID, LOAD_BASE_NAME, (ABOUT,)))


# Grown tables (the admin grow endpoint) ---------------------------------------------------------

GROWN_STATUSES = ("Todo", "Doing", "Done")
GROWN_FIELDS = (
    NewField("Item", "singleLineText"),
    NewField("Notes", "multilineText"),
    NewField("Amount", "number", {"precision": 2}),
    NewField("Status", "singleSelect", _choices(*GROWN_STATUSES)),
    NewField("Due", "date", {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}),
)
GROWN_NOTES_CHARS = 1200
_NOTE_SENTENCES = (
    "The sensor readings were checked against the gateway's log and they matched.",
    "Follow up with the customer about the delivery window for next week.",
    "Stock was counted twice; the second count agrees with the system's figure.",
    "Invoice sent, payment expected within thirty days of the order date.",
    "The support plan renews automatically unless it is cancelled in writing.",
    "Bring the spare batteries and the mounting brackets to the training day.",
    "The dashboard export ran overnight and the totals were within a cent.",
)


def grown_table_name(number: int) -> str:
    return f"Grown {number:03d}"


def grown_notes(table: int, row: int) -> str:
    """About 1,200 characters of text, the same for the same table and row on every call."""
    parts, index = [f"Notes for item {table}-{row}."], table * 7 + row
    while sum(len(part) + 1 for part in parts) <= GROWN_NOTES_CHARS:
        parts.append(_NOTE_SENTENCES[index % len(_NOTE_SENTENCES)])
        index += 1
    return " ".join(parts)[:GROWN_NOTES_CHARS].rstrip()


def grown_row(table: int, row: int) -> dict[str, Any]:
    """Record ``row`` (from 1) of grown table ``table`` (from 1): the same on every call."""
    return {
        "Item": f"Item {table}-{row}",
        "Notes": grown_notes(table, row),
        "Amount": round((table * 7919 + row * 104729) % 100000 / 100, 2),
        "Status": GROWN_STATUSES[(row - 1) % len(GROWN_STATUSES)],
        "Due": (date(2026, 1, 1) + timedelta(days=(table * 31 + row) % 365)).isoformat(),
    }
