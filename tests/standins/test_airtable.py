"""The Airtable stand-in in-process: listing, paging, CRUD, errors, rate limit, and the formula subset."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from airscope.standins.airtable import create_app
from airscope.standins.airtable.formula import FormulaError, Row, compile_formula
from tests.servers import AppServer
from tests.standins.conftest import AUTH

BASE = "appAirscopeDemo01"
LOAD_BASE = "appAirscopeLoad01"
RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")


def all_records(client: TestClient, table: str, **params: object) -> list[dict]:
    records, offset = [], None
    while True:
        body = client.get(
            f"/v0/{BASE}/{table}", params={**params, **({"offset": offset} if offset else {})}
        ).json()
        records += body["records"]
        offset = body.get("offset")
        if offset is None:
            return records


def test_lists_the_demo_base_and_its_tables(client: TestClient) -> None:
    assert client.get("/v0/meta/bases").json() == {
        "bases": [
            {"id": BASE, "name": "Airscope Demo", "permissionLevel": "create"},
            {"id": LOAD_BASE, "name": "Airscope Load", "permissionLevel": "create"},
        ]
    }
    tables = client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"]
    assert [t["name"] for t in tables] == ["Customers", "Orders", "Products"]
    for table in tables:
        assert re.fullmatch(r"tbl[A-Za-z0-9]{14}", table["id"])
        assert all(re.fullmatch(r"fld[A-Za-z0-9]{14}", f["id"]) for f in table["fields"])
        assert table["primaryFieldId"] == table["fields"][0]["id"]
    types = {f["type"] for t in tables for f in t["fields"]}
    assert {"singleLineText", "number", "email", "date", "singleSelect"} <= types


def test_the_seed_survives_a_restart_unchanged(db_env: Path) -> None:
    first = TestClient(create_app(), headers=AUTH).get(f"/v0/{BASE}/Customers").json()
    second = TestClient(create_app(), headers=AUTH).get(f"/v0/{BASE}/Customers").json()
    assert first == second
    assert 5 <= len(first["records"]) <= 30


def test_pages_through_records_with_offset_and_page_size(client: TestClient) -> None:
    sizes, ids, offset = [], [], None
    while True:
        params = {"pageSize": 7, **({"offset": offset} if offset else {})}
        body = client.get(f"/v0/{BASE}/Orders", params=params).json()
        sizes.append(len(body["records"]))
        ids += [r["id"] for r in body["records"]]
        offset = body.get("offset")
        if offset is None:
            break
        assert isinstance(offset, str)
    assert sizes == [7, 7, 7, 7, 2]
    assert len(set(ids)) == 30
    assert all(RECORD_ID.match(i) for i in ids)


def test_max_records_caps_the_whole_listing(client: TestClient) -> None:
    assert len(all_records(client, "Orders", pageSize=4, maxRecords=10)) == 10


def test_page_size_above_100_and_bad_offsets_are_rejected(client: TestClient) -> None:
    too_big = client.get(f"/v0/{BASE}/Orders", params={"pageSize": 101})
    assert too_big.status_code == 422
    assert too_big.json()["error"]["type"] == "INVALID_REQUEST_UNKNOWN"
    bad_offset = client.get(f"/v0/{BASE}/Orders", params={"offset": "not-an-offset"})
    assert bad_offset.status_code == 422
    assert bad_offset.json()["error"]["type"] == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"


def test_sorts_and_selects_fields(client: TestClient) -> None:
    params = {"sort[0][field]": "Amount", "sort[0][direction]": "desc", "fields[]": ["Order", "Amount"]}
    records = all_records(client, "Orders", **params)
    amounts = [r["fields"]["Amount"] for r in records]
    assert amounts == sorted(amounts, reverse=True)
    assert all(set(r["fields"]) == {"Order", "Amount"} for r in records)


def test_table_is_found_by_id_as_well_as_name(client: TestClient) -> None:
    table_id = client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"][2]["id"]
    assert client.get(f"/v0/{BASE}/{table_id}").json() == client.get(f"/v0/{BASE}/Products").json()


def test_record_crud(client: TestClient) -> None:
    url = f"/v0/{BASE}/Products"
    one = client.post(url, json={"fields": {"Name": "Probe", "Price": 5, "Category": "Hardware"}})
    assert one.status_code == 200
    created = one.json()
    assert RECORD_ID.match(created["id"]) and created["fields"]["Name"] == "Probe"
    two = client.post(url, json={"records": [{"fields": {"Name": "A"}}, {"fields": {"Name": "B"}}]}).json()
    a_id, b_id = (r["id"] for r in two["records"])

    assert client.get(f"{url}/{created['id']}").json() == created
    patched = client.patch(f"{url}/{created['id']}", json={"fields": {"Stock": 3}}).json()
    assert patched["fields"] == {"Name": "Probe", "Category": "Hardware", "Price": 5, "Stock": 3}
    batch = client.patch(url, json={"records": [{"id": a_id, "fields": {"Name": "A2"}}]}).json()
    assert batch["records"][0]["fields"]["Name"] == "A2"

    deleted = client.delete(url, params={"records[]": [a_id, b_id]}).json()
    assert deleted == {"records": [{"id": a_id, "deleted": True}, {"id": b_id, "deleted": True}]}
    assert client.delete(f"{url}/{created['id']}").json() == {"id": created["id"], "deleted": True}
    gone = client.get(f"{url}/{created['id']}")
    assert (gone.status_code, gone.json()) == (404, {"error": "NOT_FOUND"})
    assert len(all_records(client, "Products")) == 12


def test_batches_above_ten_are_rejected_and_change_nothing(client: TestClient) -> None:
    url = f"/v0/{BASE}/Products"
    eleven = [{"fields": {"Name": f"P{i}"}} for i in range(11)]
    assert client.post(url, json={"records": eleven}).status_code == 422
    ids = [r["id"] for r in all_records(client, "Products")][:11]
    patch = client.patch(url, json={"records": [{"id": i, "fields": {"Stock": 1}} for i in ids]})
    assert patch.status_code == 422
    assert patch.json()["error"]["type"] == "INVALID_RECORDS"
    assert client.delete(url, params={"records[]": ids}).status_code == 422
    assert len(all_records(client, "Products")) == 12
    ten = [{"fields": {"Name": f"P{i}"}} for i in range(10)]
    assert client.post(url, json={"records": ten}).status_code == 200


def test_not_found_shapes(client: TestClient) -> None:
    unknown_base = client.get("/v0/appNoSuchBase00000/Orders")
    assert (unknown_base.status_code, unknown_base.json()) == (404, {"error": "NOT_FOUND"})
    unknown_table = client.get(f"/v0/{BASE}/Invoices")
    assert unknown_table.status_code == 404
    assert unknown_table.json()["error"]["type"] == "TABLE_NOT_FOUND"
    missing = "recAAAAAAAAAAAAAA"
    assert client.get(f"/v0/{BASE}/Orders/{missing}").json() == {"error": "NOT_FOUND"}
    patch = client.patch(f"/v0/{BASE}/Orders/{missing}", json={"fields": {"Quantity": 1}})
    assert patch.status_code == 404
    assert patch.json()["error"]["type"] == "MODEL_ID_NOT_FOUND"
    assert client.get("/v0/meta/bases/appNoSuchBase00000/tables").status_code == 404


def test_unknown_fields_and_bad_values_are_422(client: TestClient) -> None:
    url = f"/v0/{BASE}/Products"
    unknown = client.post(url, json={"fields": {"Colour": "red"}})
    assert unknown.status_code == 422
    assert unknown.json()["error"] == {
        "type": "UNKNOWN_FIELD_NAME",
        "message": 'Unknown field name: "Colour"',
    }
    assert client.get(url, params={"fields[]": "Colour"}).json()["error"]["type"] == "UNKNOWN_FIELD_NAME"
    bad_value = client.post(url, json={"fields": {"Price": "cheap"}})
    assert bad_value.status_code == 422
    assert bad_value.json()["error"]["type"] == "INVALID_VALUE_FOR_COLUMN"
    typecast = client.post(url, json={"fields": {"Name": "T", "Price": "12.5"}, "typecast": True})
    assert typecast.json()["fields"]["Price"] == 12.5


def test_requires_a_bearer_token(db_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anonymous = TestClient(create_app()).get("/v0/meta/bases")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "AUTHENTICATION_REQUIRED"
    monkeypatch.setenv("STANDIN_AIRTABLE_TOKEN", "the-right-one")
    app = create_app()
    assert TestClient(app, headers=AUTH).get("/v0/meta/bases").status_code == 401
    right = {"Authorization": "Bearer the-right-one"}
    assert TestClient(app, headers=right).get("/v0/meta/bases").status_code == 200


def test_more_than_five_requests_a_second_to_a_base_get_429(
    db_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STANDIN_AIRTABLE_RATE_LIMIT")
    client = TestClient(create_app(), headers=AUTH)
    statuses = [client.get(f"/v0/{BASE}/Orders", params={"pageSize": 1}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = client.get(f"/v0/meta/bases/{BASE}/tables")
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["error"] == "RATE_LIMIT_REACHED"
    assert int(limited.headers["Retry-After"]) >= 1
    # Another base has its own budget (this one does not exist, so: 404, not 429).
    assert client.get("/v0/appOtherBase00001/Orders").status_code == 404


@pytest.mark.anyio
async def test_concurrent_writes_all_land(client: TestClient) -> None:
    transport = httpx.ASGITransport(client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://standin", headers=AUTH) as http:
        responses = await asyncio.gather(
            *(http.post(f"/v0/{BASE}/Customers", json={"fields": {"Name": f"C{i}"}}) for i in range(20))
        )
    assert all(r.status_code == 200 for r in responses)
    assert len(all_records(client, "Customers")) == 24 + 20


def test_runs_under_uvicorn_with_its_data_under_airscope_home(
    run_app: Callable[..., AppServer], tmp_path: Path
) -> None:
    env = {
        "AIRSCOPE_HOME": str(tmp_path / "home"),
        "STANDIN_AIRTABLE_DB": "",
        "STANDIN_AIRTABLE_RATE_LIMIT": "0",
    }
    server = run_app("airscope.standins.airtable", env=env, ready_path="/_admin/health")
    response = httpx.get(f"{server.url}/v0/{BASE}/Orders", headers=AUTH, params={"maxRecords": 3})
    assert len(response.json()["records"]) == 3
    assert (tmp_path / "home" / "data" / "standins" / "airtable.sqlite").is_file()


# filterByFormula ----------------------------------------------------------------------------


def test_filters_by_the_formulas_mcp_server_emits(client: TestClient) -> None:
    def names(formula: str) -> list[str]:
        response = client.get(f"/v0/{BASE}/Customers", params={"filterByFormula": formula})
        assert response.status_code == 200, response.text
        return sorted(r["fields"]["Name"] for r in response.json()["records"])

    assert names('SEARCH(LOWER("ADA"), LOWER({Name}))') == ["Ada Lovelace"]
    assert names('{City} = "Boston"') == ["Barbara Liskov", "John McCarthy"]
    assert names('AND({City} = "Cambridge", {Tier} = "Gold")') == ["Sophie Wilson"]
    assert names('OR({City} = "Vienna", SEARCH(LOWER("lamport"), LOWER({Name})))') == [
        "Hedy Lamarr",
        "Leslie Lamport",
    ]
    ada = client.get(f"/v0/{BASE}/Customers", params={"filterByFormula": '{Name} = "Ada Lovelace"'}).json()
    record_id = ada["records"][0]["id"]
    assert names(f'RECORD_ID() = "{record_id}"') == ["Ada Lovelace"]
    orders = client.get(f"/v0/{BASE}/Orders", params={"filterByFormula": "{Quantity} = 4"}).json()["records"]
    assert orders and all(r["fields"]["Quantity"] == 4 for r in orders)


def test_an_escaped_quote_stays_inside_the_string(client: TestClient) -> None:
    client.post(f"/v0/{BASE}/Customers", json={"fields": {"Name": 'Dara "Dee" O\\Neil'}})

    def search(formula: str) -> httpx.Response:
        return client.get(f"/v0/{BASE}/Customers", params={"filterByFormula": formula})

    exact = search(r'{Name} = "Dara \"Dee\" O\\Neil"').json()["records"]
    assert [r["fields"]["Name"] for r in exact] == ['Dara "Dee" O\\Neil']
    # An attacker's value, escaped as mcp-server escapes it, is one literal that matches nothing.
    value = '") , OR(1, "'
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    assert search(f'SEARCH(LOWER("{escaped}"), LOWER({{Name}}))').json()["records"] == []
    # The same value unescaped does not parse: rejected, not run.
    broken = search(f'SEARCH(LOWER("{value}"), LOWER({{Name}}))')
    assert broken.status_code == 422
    assert broken.json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"


@pytest.mark.parametrize(
    "formula",
    [
        "NOT({Name})",
        '{Name} != "x"',
        '{Name} & "x"',
        '{Nope} = "x"',
        '"unterminated',
        r'"bad \n escape"',
        "AND()",
        'LOWER("a", "b")',
        '{Name} = "a" "b"',
        "({Name})",
    ],
)
def test_anything_outside_the_subset_is_rejected(formula: str) -> None:
    with pytest.raises(FormulaError):
        compile_formula(formula, ["Name"])


def test_formula_values() -> None:
    row = Row("recAAAAAAAAAAAAAA", {"Name": "Ada", "Count": 3.0})
    assert compile_formula('{Count} = "3"', ["Name", "Count"])(row)
    assert compile_formula("{Count} = 3", ["Name", "Count"])(row)
    assert not compile_formula('{Name} = "ada"', ["Name"])(row)
    assert compile_formula('search("d", {Name})', ["Name"])(row)
    assert not compile_formula('{Missing} = "x"', ["Missing"])(row)
    assert compile_formula('{Missing} = ""', ["Missing"])(row)


# -- tables through the meta API ------------------------------------------------------------------

NEW_TABLE = {
    "name": "Launch Tasks",
    "description": "What to do before launch",
    "fields": [
        {"name": "Task", "type": "singleLineText"},
        {
            "name": "Status",
            "type": "singleSelect",
            "options": {"choices": [{"name": "Todo"}, {"name": "Done"}]},
        },
        {"name": "Due", "type": "date"},
    ],
}


def test_creates_a_table_that_takes_records_and_survives_a_restart(client: TestClient, db_env: Path) -> None:
    created = client.post(f"/v0/meta/bases/{BASE}/tables", json=NEW_TABLE)
    assert created.status_code == 200, created.text
    table = created.json()
    assert re.fullmatch(r"tbl[A-Za-z0-9]{14}", table["id"])
    assert (table["name"], table["description"]) == ("Launch Tasks", "What to do before launch")
    assert [f["name"] for f in table["fields"]] == ["Task", "Status", "Due"]
    assert table["primaryFieldId"] == table["fields"][0]["id"]

    record = client.post(f"/v0/{BASE}/{table['id']}", json={"fields": {"Task": "Ship", "Status": "Todo"}})
    assert record.status_code == 200, record.text
    bad = client.post(f"/v0/{BASE}/Launch Tasks", json={"fields": {"Status": "Maybe"}})
    assert bad.json()["error"]["type"] == "INVALID_VALUE_FOR_COLUMN"

    reopened = TestClient(create_app(), headers=AUTH)
    tables = reopened.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"]
    assert tables[-1] == table
    assert [r["fields"]["Task"] for r in reopened.get(f"/v0/{BASE}/Launch Tasks").json()["records"]] == [
        "Ship"
    ]


def test_a_taken_table_name_is_refused_ignoring_case(client: TestClient) -> None:
    taken = client.post(f"/v0/meta/bases/{BASE}/tables", json={**NEW_TABLE, "name": "customers"})
    assert taken.status_code == 422
    assert taken.json()["error"]["type"] == "DUPLICATE_TABLE_NAME"
    names = [t["name"] for t in client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"]]
    assert names == ["Customers", "Orders", "Products"]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"fields": NEW_TABLE["fields"]}, "INVALID_REQUEST_UNKNOWN"),
        ({"name": "T", "fields": []}, "INVALID_REQUEST_UNKNOWN"),
        ({"name": "T", "fields": [{"name": "A", "type": "hologram"}]}, "INVALID_FIELD_TYPE"),
        (
            {"name": "T", "fields": [{"name": "A", "type": "number"}, {"name": "a", "type": "email"}]},
            "DUPLICATE_OR_EMPTY_FIELD_NAME",
        ),
    ],
)
def test_a_malformed_table_is_refused(client: TestClient, payload: dict, kind: str) -> None:
    refused = client.post(f"/v0/meta/bases/{BASE}/tables", json=payload)
    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == kind


def test_creating_in_an_unknown_base_is_404(client: TestClient) -> None:
    assert client.post("/v0/meta/bases/appNoSuchBase0000/tables", json=NEW_TABLE).status_code == 404


def test_renames_and_describes_a_table_by_id_or_name(client: TestClient) -> None:
    table = client.post(f"/v0/meta/bases/{BASE}/tables", json=NEW_TABLE).json()
    renamed = client.patch(f"/v0/meta/bases/{BASE}/tables/{table['id']}", json={"name": "[archived] Launch"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["description"]) == (
        "[archived] Launch",
        NEW_TABLE["description"],
    )
    # The same rename again is no conflict with itself: a retried compensation succeeds.
    again = client.patch(f"/v0/meta/bases/{BASE}/tables/{table['id']}", json={"name": "[archived] Launch"})
    assert again.status_code == 200
    described = client.patch(f"/v0/meta/bases/{BASE}/tables/[archived] Launch", json={"description": "old"})
    assert described.json()["description"] == "old"
    assert client.get(f"/v0/{BASE}/Launch Tasks").status_code == 404
    assert client.get(f"/v0/{BASE}/[archived] Launch").status_code == 200

    taken = client.patch(f"/v0/meta/bases/{BASE}/tables/{table['id']}", json={"name": "Orders"})
    assert taken.json()["error"]["type"] == "DUPLICATE_TABLE_NAME"
    assert client.patch(f"/v0/meta/bases/{BASE}/tables/{table['id']}", json={}).status_code == 422
    assert (
        client.patch(f"/v0/meta/bases/{BASE}/tables/tblNoSuchTable0000", json={"name": "x"}).status_code
        == 404
    )


# -- what Airtable's clients send besides (pyairtable's own calls: test_airtable_contract.py) ----------


def test_list_records_by_post_takes_the_query_as_a_body(client: TestClient) -> None:
    url = f"/v0/{BASE}/Orders/listRecords"
    body = {
        "filterByFormula": "{Quantity} >= 3",
        "sort": [{"field": "Amount", "direction": "desc"}],
        "fields": ["Order", "Amount", "Quantity"],
        "pageSize": 5,
        "maxRecords": 8,
    }
    first = client.post(url, json=body).json()
    second = client.post(url, json={**body, "offset": first["offset"]}).json()
    assert "offset" not in second
    records = first["records"] + second["records"]
    amounts = [r["fields"]["Amount"] for r in records]
    assert len(records) == 8 and amounts == sorted(amounts, reverse=True)
    assert all(
        r["fields"]["Quantity"] >= 3 and set(r["fields"]) == {"Order", "Amount", "Quantity"} for r in records
    )
    for bad in (
        {"pageSize": 101},
        {"pageSize": "5"},
        {"fields": "Order"},
        {"sort": ["Amount"]},
        {"colour": 1},
    ):
        refused = client.post(url, json=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["type"] == "INVALID_REQUEST_UNKNOWN"


def test_fields_by_id_and_cell_format_string(client: TestClient) -> None:
    products = client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"][2]
    ids = {f["name"]: f["id"] for f in products["fields"]}
    by_id = client.get(
        f"/v0/{BASE}/Products", params={"returnFieldsByFieldId": "true", "maxRecords": 1}
    ).json()
    record = by_id["records"][0]
    assert set(record["fields"]) == set(ids.values())
    assert (
        client.get(f"/v0/{BASE}/Products/{record['id']}", params={"returnFieldsByFieldId": 1}).json()
        == record
    )
    created = client.post(
        f"/v0/{BASE}/Products", json={"fields": {"Name": "Id'd"}, "returnFieldsByFieldId": True}
    ).json()
    assert created["fields"] == {ids["Name"]: "Id'd"}

    strings = {
        "cellFormat": "string",
        "timeZone": "UTC",
        "userLocale": "en-us",
        "fields[]": ["Price", "Stock"],
    }
    first = client.get(f"/v0/{BASE}/Products", params=strings).json()["records"][0]["fields"]
    assert first == {"Price": "149.00", "Stock": "0"}
    assert client.get(f"/v0/{BASE}/Products", params={"cellFormat": "string"}).status_code == 422
    assert client.get(f"/v0/{BASE}/Products", params={"cellFormat": "csv"}).status_code == 422


def test_views_and_the_schemas_airtable_answers(client: TestClient) -> None:
    tables = client.get(f"/v0/meta/bases/{BASE}/tables", params={"include[]": "visibleFieldIds"}).json()[
        "tables"
    ]
    for table in tables:
        (view,) = table["views"]
        assert re.fullmatch(r"viw[A-Za-z0-9]{14}", view["id"])
        assert (view["name"], view["type"]) == ("Grid view", "grid")
        assert view["visibleFieldIds"] == [f["id"] for f in table["fields"]]
    plain = client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"]
    assert all("visibleFieldIds" not in t["views"][0] for t in plain)
    tier = next(f for f in plain[0]["fields"] if f["name"] == "Tier")
    assert [(c["name"], c["color"]) for c in tier["options"]["choices"]] == [
        ("Bronze", "blueLight2"),
        ("Silver", "cyanLight2"),
        ("Gold", "tealLight2"),
    ]
    assert all(re.fullmatch(r"sel[A-Za-z0-9]{14}", c["id"]) for c in tier["options"]["choices"])
    view_id = plain[1]["views"][0]["id"]
    assert (
        client.get(f"/v0/{BASE}/Orders", params={"view": view_id}).json()
        == client.get(f"/v0/{BASE}/Orders").json()
    )
    unknown = client.get(f"/v0/{BASE}/Orders", params={"view": "Kanban"})
    assert (unknown.status_code, unknown.json()["error"]["type"]) == (422, "VIEW_NAME_NOT_FOUND")


def test_created_fields_get_airtables_default_options(client: TestClient) -> None:
    table = client.post(f"/v0/meta/bases/{BASE}/tables", json=NEW_TABLE).json()
    status, due = table["fields"][1], table["fields"][2]
    assert [c["name"] for c in status["options"]["choices"]] == ["Todo", "Done"]
    assert all(c["id"].startswith("sel") and c["color"] for c in status["options"]["choices"])
    assert due["options"] == {"dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}}
    assert [v["name"] for v in table["views"]] == ["Grid view"]
    # typecast adds an unknown choice to the field, as Airtable does; without it the value is refused.
    url = f"/v0/{BASE}/{table['id']}"
    assert client.post(url, json={"fields": {"Status": "Blocked"}}).status_code == 422
    assert client.post(url, json={"fields": {"Status": "Blocked"}, "typecast": True}).status_code == 200
    after = client.get(f"/v0/meta/bases/{BASE}/tables").json()["tables"][-1]["fields"][1]
    assert [c["name"] for c in after["options"]["choices"]] == ["Todo", "Done", "Blocked"]
    assert after["options"]["choices"][:2] == status["options"]["choices"]


def test_bases_page_with_an_offset(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("airscope.standins.airtable.meta.BASES_PAGE_SIZE", 1)
    first = client.get("/v0/meta/bases").json()
    assert [b["id"] for b in first["bases"]] == [BASE]
    second = client.get("/v0/meta/bases", params={"offset": first["offset"]}).json()
    assert [b["id"] for b in second["bases"]] == [LOAD_BASE] and "offset" not in second
    bad = client.get("/v0/meta/bases", params={"offset": "nonsense"})
    assert (bad.status_code, bad.json()["error"]["type"]) == (422, "INVALID_OFFSET_VALUE")


def test_single_quotes_and_orderings_as_pyairtable_writes_them() -> None:
    row = Row("recAAAAAAAAAAAAAA", {"Name": "O'Neil \\ Jr", "Amount": 12.5})
    assert compile_formula(r"{Name}='O\'Neil \\ Jr'", ["Name"])(row)
    assert compile_formula("AND({Amount}>10, {Amount}<=12.5, {Amount}>='12')", ["Amount"])(row)
    assert not compile_formula("{Amount}<10", ["Amount"])(row)
    assert compile_formula("{Missing}<1", ["Missing"])(row)  # a blank is 0
    with pytest.raises(FormulaError):
        compile_formula(r"'bad \" escape'", ["Name"])


@pytest.mark.parametrize(
    "field",
    [
        {"name": "A", "type": "number", "options": {"precision": "2"}},
        {"name": "A", "type": "number", "options": {"precision": 9}},
        {"name": "A", "type": "currency", "options": {"symbol": 1}},
        {"name": "A", "type": "date", "options": {"dateFormat": "iso"}},
        {"name": "A", "type": "singleSelect", "options": {"choices": "Todo"}},
        {"name": "A", "type": "singleSelect", "options": {"choices": [{"name": {"x": 1}}]}},
        {"name": "A", "type": "singleSelect", "options": {"choices": [{"name": "x"}, {"name": "x"}]}},
        {"name": "A", "type": "singleSelect", "options": {"choices": [{"name": "x", "color": 3}]}},
    ],
)
def test_bad_field_options_are_refused(client: TestClient, field: dict) -> None:
    refused = client.post(f"/v0/meta/bases/{BASE}/tables", json={"name": "T", "fields": [field]})
    assert refused.status_code == 422
    assert refused.json()["error"]["type"] == "INVALID_FIELD_TYPE_OPTIONS"
