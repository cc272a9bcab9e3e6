"""The Airtable stand-in's grow endpoint (``POST /_admin/bases/{baseId}/grow``) and its seeding of bases.

The grow endpoint's contract is called as is by the end-to-end tests and drills:
``{"tables": 0..500, "records_per_table": 0..1000}`` -> 200
``{"tables_created", "records_created", "tables"}``; 404 for an unknown base.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from airscope.standins.airtable import create_app, seed
from airscope.standins.airtable.ratelimit import RateLimiter
from tests.standins.conftest import AUTH

BASE = seed.BASE_ID


def grow(client: TestClient, base: str = BASE, **body: object):
    return client.post(f"/_admin/bases/{base}/grow", json=body)


def table_names(client: TestClient, base: str = BASE) -> list[str]:
    return [t["name"] for t in client.get(f"/v0/meta/bases/{base}/tables").json()["tables"]]


def test_grows_tables_with_their_fields_and_records_at_the_end_of_the_base(client: TestClient) -> None:
    answer = grow(client, tables=3, records_per_table=4)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"tables_created": 3, "records_created": 12, "tables": 6}
    assert table_names(client) == ["Customers", "Orders", "Products", "Grown 001", "Grown 002", "Grown 003"]

    grown = client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"][4]
    assert [(f["name"], f["type"]) for f in grown["fields"]] == [
        ("Item", "singleLineText"),
        ("Notes", "multilineText"),
        ("Amount", "number"),
        ("Status", "singleSelect"),
        ("Due", "date"),
    ]
    assert grown["primaryFieldId"] == grown["fields"][0]["id"]
    assert grown["fields"][2]["options"] == {"precision": 2}
    assert [c["name"] for c in grown["fields"][3]["options"]["choices"]] == ["Todo", "Doing", "Done"]
    assert [v["name"] for v in grown["views"]] == ["Grid view"]

    records = client.get(f"/v0/{BASE}/Grown 002").json()["records"]
    assert [r["fields"]["Item"] for r in records] == [f"Item 2-{row}" for row in range(1, 5)]
    assert [r["fields"]["Status"] for r in records] == ["Todo", "Doing", "Done", "Todo"]
    first = records[0]["fields"]
    assert 1100 <= len(first["Notes"]) <= 1200
    assert isinstance(first["Amount"], float | int) and first["Due"].startswith("2026-")
    assert first == seed.grown_row(2, 1)  # deterministic


def test_growing_twice_with_the_same_numbers_adds_nothing_and_larger_numbers_continue(
    client: TestClient,
) -> None:
    assert grow(client, tables=2, records_per_table=3).json()["tables_created"] == 2
    assert grow(client, tables=2, records_per_table=3).json() == {
        "tables_created": 0,
        "records_created": 0,
        "tables": 5,
    }
    assert grow(client, tables=4, records_per_table=1).json() == {
        "tables_created": 2,
        "records_created": 2,
        "tables": 7,
    }
    assert table_names(client)[3:] == ["Grown 001", "Grown 002", "Grown 003", "Grown 004"]
    assert len(client.get(f"/v0/{BASE}/Grown 001").json()["records"]) == 3
    assert len(client.get(f"/v0/{BASE}/Grown 004").json()["records"]) == 1


def test_a_name_already_taken_is_skipped(client: TestClient) -> None:
    fields = [{"name": "Name", "type": "singleLineText"}]
    assert (
        client.post(f"/v0/meta/bases/{BASE}/tables", json={"name": "grown 002", "fields": fields}).status_code
        == 200
    )
    assert grow(client, tables=3, records_per_table=2).json() == {
        "tables_created": 2,
        "records_created": 4,
        "tables": 6,
    }
    assert table_names(client)[3:] == ["grown 002", "Grown 001", "Grown 003"]
    assert client.get(f"/v0/{BASE}/grown 002").json()["records"] == []


def test_grown_tables_survive_a_restart(client: TestClient) -> None:
    grow(client, tables=2, records_per_table=5)
    reopened = TestClient(create_app(), headers=AUTH)
    assert table_names(reopened)[3:] == ["Grown 001", "Grown 002"]
    assert len(reopened.get(f"/v0/{BASE}/Grown 002").json()["records"]) == 5


def test_unknown_base_is_404_and_bad_bodies_are_422(client: TestClient) -> None:
    assert grow(client, base="appNoSuchBase0000", tables=1, records_per_table=1).status_code == 404
    for body in (
        {"tables": 501, "records_per_table": 1},
        {"tables": 1, "records_per_table": 1001},
        {"tables": -1, "records_per_table": 1},
        {"tables": "3", "records_per_table": 1},
        {"tables": 1.5, "records_per_table": 1},
        {"tables": 1},
        {"tables": 1, "records_per_table": 1, "extra": True},
    ):
        assert grow(client, **body).status_code == 422, body
    assert grow(client, tables=0, records_per_table=0).json() == {
        "tables_created": 0,
        "records_created": 0,
        "tables": 3,
    }


def test_grow_is_neither_rate_limited_nor_faulted(client: TestClient) -> None:
    client.app.state.limiter = RateLimiter(1)  # a second API request within a second would be a 429
    client.put("/_admin/faults", json={"down": True})
    assert client.get(f"/v0/meta/bases/{BASE}/tables").status_code == 503
    statuses = [grow(client, tables=i, records_per_table=1).status_code for i in range(1, 9)]
    assert statuses == [200] * 8  # no 429, no 503
    client.delete("/_admin/faults")
    assert len(table_names(client)) == 3 + 8


def test_a_hundred_tables_of_a_hundred_records_in_one_call(client: TestClient) -> None:
    answer = grow(client, tables=100, records_per_table=100)
    assert answer.json() == {"tables_created": 100, "records_created": 10_000, "tables": 103}
    assert table_names(client)[-1] == "Grown 100"
    page = client.get(f"/v0/{BASE}/Grown 100", params={"pageSize": 100}).json()
    assert len(page["records"]) == 100 and "offset" not in page


# Seeding ----------------------------------------------------------------------------------------


def test_a_new_database_has_the_demo_and_the_load_base(client: TestClient) -> None:
    bases = client.get("/v0/meta/bases").json()["bases"]
    assert [(b["id"], b["name"]) for b in bases] == [
        (BASE, "Airscope Demo"),
        (seed.LOAD_BASE_ID, "Airscope Load"),
    ]
    assert table_names(client) == ["Customers", "Orders", "Products"]
    assert table_names(client, seed.LOAD_BASE_ID) == ["About"]
    about = client.get(f"/v0/{seed.LOAD_BASE_ID}/About").json()["records"]
    assert [r["fields"]["Name"] for r in about] == ["Airscope Load"]


def test_an_older_database_with_the_demo_base_alone_gets_the_load_base(
    client: TestClient, db_env: Path
) -> None:
    client.post(f"/v0/{BASE}/Customers", json={"fields": {"Name": "Kept"}})
    demo_before = client.get(f"/v0/meta/bases/{BASE}/tables").json()
    # As a var/ from before the load base existed: the demo base alone, options without choice IDs.
    with sqlite3.connect(db_env) as db:
        load_tables = [
            row[0] for row in db.execute("SELECT id FROM tables WHERE base_id = ?", (seed.LOAD_BASE_ID,))
        ]
        db.executemany("DELETE FROM records WHERE table_id = ?", [(t,) for t in load_tables])
        db.executemany("DELETE FROM fields WHERE table_id = ?", [(t,) for t in load_tables])
        db.execute("DELETE FROM tables WHERE base_id = ?", (seed.LOAD_BASE_ID,))
        db.execute("DELETE FROM bases WHERE id = ?", (seed.LOAD_BASE_ID,))
        db.execute(
            "UPDATE fields SET options = ? WHERE name = 'Tier'",
            ('{"choices": [{"name": "Bronze"}, {"name": "Silver"}, {"name": "Gold"}]}',),
        )

    reopened = TestClient(create_app(), headers=AUTH)
    assert [b["id"] for b in reopened.get("/v0/meta/bases").json()["bases"]] == [BASE, seed.LOAD_BASE_ID]
    assert table_names(reopened, seed.LOAD_BASE_ID) == ["About"]
    assert reopened.get(f"/v0/meta/bases/{BASE}/tables").json() == demo_before  # same IDs, same choices
    kept = reopened.get(f"/v0/{BASE}/Customers", params={"filterByFormula": "{Name} = 'Kept'"}).json()
    assert len(kept["records"]) == 1
