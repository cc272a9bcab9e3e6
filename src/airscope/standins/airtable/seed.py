"""The demo base every fresh stand-in database starts with: "Airscope Demo" (``appAirscopeDemo01``).

Three tables — Customers (24 records), Orders (30), Products (12) — with text, email, number, date
and single-select fields. Records are made from fixed lists, so every start seeds the same data
(same record IDs too), and there are enough rows to page through with a small ``pageSize``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BASE_ID = "appAirscopeDemo01"
BASE_NAME = "Airscope Demo"


@dataclass(frozen=True)
class SeedField:
    name: str
    type: str
    options: dict[str, Any] | None = None


@dataclass(frozen=True)
class SeedTable:
    name: str
    fields: tuple[SeedField, ...]  # the first one is the primary field
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
        SeedField("Name", "singleLineText"),
        SeedField("Email", "email"),
        SeedField("City", "singleLineText"),
        SeedField("Tier", "singleSelect", _choices(*_TIERS)),
        SeedField("Customer Since", "date", {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}),
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
        SeedField("Name", "singleLineText"),
        SeedField("SKU", "singleLineText"),
        SeedField("Category", "singleSelect", _choices("Hardware", "Software", "Service")),
        SeedField("Price", "number", {"precision": 2}),
        SeedField("Stock", "number", {"precision": 0}),
    ),
    rows=tuple(
        {"Name": name, "SKU": f"SKU-{100 + i}", "Category": category, "Price": price, "Stock": (i * 13) % 40}
        for i, (name, category, price) in enumerate(_PRODUCTS)
    ),
)

ORDERS = SeedTable(
    name="Orders",
    fields=(
        SeedField("Order", "singleLineText"),
        SeedField("Customer", "singleLineText"),
        SeedField("Product", "singleLineText"),
        SeedField("Quantity", "number", {"precision": 0}),
        SeedField("Amount", "number", {"precision": 2}),
        SeedField("Status", "singleSelect", _choices(*_STATUSES)),
        SeedField("Order Date", "date", {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}),
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
