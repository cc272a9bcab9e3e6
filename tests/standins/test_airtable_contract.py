"""Airtable's own client against the stand-in: pyairtable, over real HTTP, for every call the platform
and the docs rely on.

The stand-in runs under uvicorn on a free port, once for the module (its demo base is only read here;
writes go to tables the tests create in the load base), plus a second one at Airtable's default rate
limit of 5 requests a second for the 429 test. pyairtable is pinned in requirements.lock: a new release
that reads Airtable differently shows up here first.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from pyairtable import Api
from pyairtable.formulas import match
from pyairtable.models.schema import (
    DateFieldSchema,
    EmailFieldSchema,
    NumberFieldSchema,
    SingleLineTextFieldSchema,
    SingleSelectFieldSchema,
)

from airscope.standins.airtable import seed
from tests.servers import Apps, AppServer, start_airtable_standin

TOKEN = "pat-contract-test-token"
DEMO = seed.BASE_ID
LOAD = seed.LOAD_BASE_ID
ID = {kind: re.compile(rf"^{kind}[A-Za-z0-9]{{14}}$") for kind in ("tbl", "fld", "viw", "rec", "sel", "usr")}


def _serve(apps: Apps, **env: str) -> AppServer:
    return start_airtable_standin(apps, STANDIN_AIRTABLE_TOKEN=TOKEN, STANDIN_LATENCY_MS="0", **env)


@pytest.fixture(scope="module")
def standin(module_apps: Apps) -> AppServer:
    return _serve(module_apps, STANDIN_AIRTABLE_RATE_LIMIT="0")


@pytest.fixture(scope="module")
def api(standin: AppServer) -> Api:
    return Api(TOKEN, endpoint_url=standin.url, timeout=(5, 30))


def requests_seen(server: AppServer, method: str, path: str, status: int | None = None) -> int:
    """How many requests uvicorn's access log shows for this method and path (and status)."""
    code = str(status) if status else r"\d+"
    pattern = re.compile(rf'"{method} {re.escape(path)}(\?\S*)? HTTP/1\.1" {code}\b')
    return sum(1 for line in server.log_path.read_text(errors="replace").splitlines() if pattern.search(line))


_made = iter(range(1, 10_000))


def new_table(api: Api, *extra: dict[str, Any]) -> Any:
    """A fresh table in the load base, created through pyairtable (so its answer is parsed too)."""
    fields = [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Price", "type": "number", "options": {"precision": 2}},
        {
            "name": "Status",
            "type": "singleSelect",
            "options": {"choices": [{"name": "Todo"}, {"name": "Doing"}, {"name": "Done"}]},
        },
        {"name": "Due", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
        *extra,
    ]
    return api.base(LOAD).create_table(f"Contract {next(_made):03d}", fields, description="pyairtable's")


def names(records: list[dict]) -> list[str]:
    return [r["fields"]["Name"] for r in records]


# Bases and schema ---------------------------------------------------------------------------------


def test_bases_are_listed_with_their_permission(api: Api) -> None:
    bases = api.bases()
    assert [(b.id, b.name, b.permission_level) for b in bases] == [
        (DEMO, "Airscope Demo", "create"),
        (LOAD, "Airscope Load", "create"),
    ]
    assert api.base(DEMO, validate=True).name == "Airscope Demo"
    assert ID["usr"].match(api.whoami()["id"])


def test_the_schema_parses_into_pyairtables_models_views_included(api: Api) -> None:
    schema = api.base(DEMO).schema()
    assert [t.name for t in schema.tables] == ["Customers", "Orders", "Products"]
    for table in schema.tables:
        assert ID["tbl"].match(table.id)
        assert table.primary_field_id == table.fields[0].id
        assert all(ID["fld"].match(f.id) for f in table.fields)
        (view,) = table.views
        assert (view.name, view.type) == ("Grid view", "grid") and ID["viw"].match(view.id)
        assert view.visible_field_ids == [f.id for f in table.fields]  # asked for by base.schema()
        assert table.view("Grid view") is view

    customers, orders, products = schema.tables
    assert isinstance(customers.field("Name"), SingleLineTextFieldSchema)
    assert isinstance(customers.field("Email"), EmailFieldSchema)
    tier = customers.field("Tier")
    assert isinstance(tier, SingleSelectFieldSchema)
    assert [c.name for c in tier.options.choices] == ["Bronze", "Silver", "Gold"]
    assert all(ID["sel"].match(c.id) and c.color for c in tier.options.choices)
    price = products.field("Price")
    assert isinstance(price, NumberFieldSchema) and price.options.precision == 2
    assert products.field("Stock").options.precision == 0
    order_date = orders.field("Order Date")
    assert isinstance(order_date, DateFieldSchema)
    assert (order_date.options.date_format.name, order_date.options.date_format.format) == (
        "iso",
        "YYYY-MM-DD",
    )
    # The same IDs on every read: the schema is stable across restarts and calls.
    assert (
        api.base(DEMO).schema(force=True).table("Customers").field("Tier").options.choices
        == tier.options.choices
    )


def test_tables_come_as_table_objects_named_and_identified(api: Api) -> None:
    tables = api.base(DEMO).tables()
    assert [t.name for t in tables] == ["Customers", "Orders", "Products"]
    products = tables[2]
    assert ID["tbl"].match(products.id)
    # A table reached by its ID reads the same records as by its name.
    assert api.table(DEMO, products.id).all() == api.table(DEMO, "Products").all()
    assert api.base(LOAD).tables()[0].name == "About"


def test_a_table_created_through_pyairtable_answers_airtables_defaults(api: Api) -> None:
    table = new_table(api, {"name": "Paid", "type": "checkbox"}, {"name": "Total", "type": "currency"})
    schema = table.schema()
    assert schema.description == "pyairtable's"
    assert [v.name for v in schema.views] == ["Grid view"]
    status = schema.field("Status")
    assert [c.name for c in status.options.choices] == ["Todo", "Doing", "Done"]
    assert all(ID["sel"].match(c.id) and c.color for c in status.options.choices)
    assert schema.field("Due").options.date_format.format == "YYYY-MM-DD"
    assert (schema.field("Paid").options.icon, schema.field("Total").options.symbol) == ("check", "$")
    quantity = table.create_field("Quantity", "number", options={"precision": 1})
    assert isinstance(quantity, NumberFieldSchema) and quantity.options.precision == 1
    assert table.create({"Name": "q", "Quantity": 2.5})["fields"]["Quantity"] == 2.5
    assert table.schema(force=True).fields[-1].id == quantity.id
    status, text = error_of(lambda: table.create_field("quantity", "singleLineText"))
    assert status == 422 and "DUPLICATE_OR_EMPTY_FIELD_NAME" in text
    schema.name = schema.name + " renamed"
    schema.save()  # PATCH meta/bases/{base}/tables/{id}
    assert api.base(LOAD).schema(force=True).table(table.id).name == schema.name


# Listing ----------------------------------------------------------------------------------------


def test_all_and_iterate_page_with_page_size_and_max_records(api: Api) -> None:
    orders = api.table(DEMO, "Orders")
    everything = orders.all()
    assert len(everything) == 30 and len({r["id"] for r in everything}) == 30
    assert all(ID["rec"].match(r["id"]) and r["createdTime"].endswith("Z") for r in everything)
    pages = list(orders.iterate(page_size=7))
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert [r for page in pages for r in page] == everything
    assert orders.all(max_records=10) == everything[:10]
    assert [len(page) for page in orders.iterate(page_size=4, max_records=10)] == [4, 4, 2]
    assert orders.first() == everything[0]
    assert orders.all(view="Grid view") == everything


def test_formula_filters_what_pyairtable_builds(api: Api) -> None:
    customers = api.table(DEMO, "Customers")
    assert sorted(names(customers.all(formula=match({"City": "Boston"})))) == [
        "Barbara Liskov",
        "John McCarthy",
    ]
    both = match({"City": "Cambridge", "Tier": "Gold"})
    assert names(customers.all(formula=both)) == ["Sophie Wilson"]
    assert names(customers.all(formula='SEARCH(LOWER("ADA"), LOWER({Name}))')) == ["Ada Lovelace"]
    expensive = api.table(DEMO, "Orders").all(formula=match({"Amount": (">=", 500)}))
    expected = [row for row in seed.ORDERS.rows if row["Amount"] >= 500]
    assert len(expensive) == len(expected) > 0
    assert all(r["fields"]["Amount"] >= 500 for r in expensive)
    assert customers.all(formula=match({"Name": "O'Neil \\ nobody"})) == []


def test_sort_ascending_descending_and_by_two_fields(api: Api) -> None:
    orders = api.table(DEMO, "Orders")
    amounts = [r["fields"]["Amount"] for r in orders.all(sort=["Amount"])]
    assert amounts == sorted(amounts) and len(amounts) == 30
    assert [r["fields"]["Amount"] for r in orders.all(sort=["-Amount"])] == sorted(amounts, reverse=True)
    pairs = [(r["fields"]["Status"], r["fields"]["Amount"]) for r in orders.all(sort=["Status", "-Amount"])]
    assert pairs == sorted(pairs, key=lambda p: (p[0].lower(), -p[1]))


def test_fields_selects_by_name_or_id(api: Api) -> None:
    orders = api.table(DEMO, "Orders")
    records = orders.all(fields=["Order", "Amount"])
    assert len(records) == 30 and all(set(r["fields"]) == {"Order", "Amount"} for r in records)
    amount_id = orders.schema().field("Amount").id
    assert {tuple(r["fields"]) for r in orders.all(fields=[amount_id])} == {("Amount",)}


def test_a_get_longer_than_pyairtables_url_limit_goes_by_post_to_list_records(
    api: Api, standin: AppServer
) -> None:
    customers = api.table(DEMO, "Customers")
    wanted = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Hedy Lamarr", "Ken Thompson", "Anita Borg"]
    decoys = [f"nobody number {i:04d}" for i in range(600)]  # makes the URL longer than 16,000
    formula = "OR(" + ", ".join(f"{{Name}}='{name}'" for name in wanted + decoys) + ")"
    path = f"/v0/{DEMO}/Customers/listRecords"
    before = requests_seen(standin, "POST", path, 200)
    pages = list(customers.iterate(formula=formula, sort=["-Name"], fields=["Name", "City"], page_size=4))
    assert [len(page) for page in pages] == [4, 2]
    records = [r for page in pages for r in page]
    assert names(records) == sorted(wanted, reverse=True)
    assert all(set(r["fields"]) == {"Name", "City"} for r in records)
    assert requests_seen(standin, "POST", path, 200) - before == 2  # both pages, the offset in the body
    assert names(customers.all(formula=formula, max_records=3, sort=["Name"])) == sorted(wanted)[:3]


def test_field_ids_instead_of_names(api: Api) -> None:
    products = api.table(DEMO, "Products")
    by_id = {f.name: f.id for f in products.schema().fields}
    records = products.all(use_field_ids=True, max_records=3)
    assert set(records[0]["fields"]) == set(by_id.values())
    one = products.get(records[0]["id"], use_field_ids=True)
    assert one == records[0]
    table = new_table(api)
    created = table.create({"Name": "by id", "Price": 3}, use_field_ids=True)
    assert created["fields"] == {
        table.schema().field("Name").id: "by id",
        table.schema().field("Price").id: 3,
    }
    assert (
        Api(TOKEN, endpoint_url=api.endpoint_url, use_field_ids=True)
        .table(DEMO, "Products")
        .get(records[0]["id"])
        == one
    )


def test_cell_format_string(api: Api) -> None:
    products = api.table(DEMO, "Products")
    shown = products.all(
        cell_format="string", time_zone="Europe/London", user_locale="en-gb", fields=["Price"]
    )
    assert [r["fields"]["Price"] for r in shown] == [f"{row['Price']:.2f}" for row in seed.PRODUCTS.rows]
    orders = api.table(DEMO, "Orders").all(
        cell_format="string", time_zone="UTC", user_locale="en-us", fields=["Order Date", "Quantity"]
    )
    assert orders[0]["fields"] == {"Quantity": "1", "Order Date": seed.ORDERS.rows[0]["Order Date"]}


# Writing ----------------------------------------------------------------------------------------


def test_create_get_update_replace_and_delete_one(api: Api) -> None:
    table = new_table(api)
    created = table.create({"Name": "Probe", "Price": 5, "Status": "Todo", "Due": "2026-03-01"})
    assert ID["rec"].match(created["id"])
    assert created["fields"] == {"Name": "Probe", "Price": 5, "Status": "Todo", "Due": "2026-03-01"}
    assert table.get(created["id"]) == created
    patched = table.update(created["id"], {"Status": "Doing"})
    assert patched["fields"] == {**created["fields"], "Status": "Doing"}
    replaced = table.update(created["id"], {"Name": "Probe 2"}, replace=True)
    assert replaced["fields"] == {"Name": "Probe 2"}
    assert table.delete(created["id"]) == {"id": created["id"], "deleted": True}
    assert table.all() == []
    with pytest.raises(requests.HTTPError) as gone:
        table.get(created["id"])
    assert gone.value.response.status_code == 404
    assert "NOT_FOUND" in str(gone.value)


def test_batches_of_ten_and_more(api: Api) -> None:
    table = new_table(api)
    created = table.batch_create([{"Name": f"Item {i}", "Price": i} for i in range(10)])
    assert [r["fields"]["Name"] for r in created] == [f"Item {i}" for i in range(10)]
    updated = table.batch_update([{"id": r["id"], "fields": {"Status": "Done"}} for r in created])
    assert [r["fields"]["Status"] for r in updated] == ["Done"] * 10
    assert [r["fields"]["Price"] for r in table.all(sort=["Price"])] == list(range(10))
    deleted = table.batch_delete([r["id"] for r in created])
    assert deleted == [{"id": r["id"], "deleted": True} for r in created]
    assert table.all() == []
    # 25 records: pyairtable sends three requests of at most ten.
    assert len(table.batch_create([{"Name": f"Bulk {i}"} for i in range(25)])) == 25
    assert len(table.all()) == 25
    assert len(table.batch_delete([r["id"] for r in table.all()])) == 25


def test_batch_upsert_merges_on_a_field(api: Api) -> None:
    table = new_table(api)
    table.batch_create([{"Name": "A", "Price": 1}, {"Name": "B", "Price": 2}])
    result = table.batch_upsert(
        [{"fields": {"Name": "B", "Price": 20}}, {"fields": {"Name": "C", "Price": 3}}], key_fields=["Name"]
    )
    assert len(result["updatedRecords"]) == 1 and len(result["createdRecords"]) == 1
    assert {r["fields"]["Name"]: r["fields"]["Price"] for r in table.all()} == {"A": 1, "B": 20, "C": 3}


def test_typecast_converts_values_and_adds_choices(api: Api) -> None:
    table = new_table(api)
    with pytest.raises(requests.HTTPError) as refused:
        table.create({"Name": "x", "Price": "12.5"})
    assert refused.value.response.status_code == 422 and "INVALID_VALUE_FOR_COLUMN" in str(refused.value)
    cast = table.create({"Name": 42, "Price": "12.5", "Status": "Blocked"}, typecast=True)
    assert cast["fields"] == {"Name": "42", "Price": 12.5, "Status": "Blocked"}
    choices = table.schema(force=True).field("Status").options.choices
    assert [c.name for c in choices] == ["Todo", "Doing", "Done", "Blocked"]
    assert ID["sel"].match(choices[-1].id)
    assert (
        table.batch_update([{"id": cast["id"], "fields": {"Price": "7"}}], typecast=True)[0]["fields"][
            "Price"
        ]
        == 7
    )


# Errors -----------------------------------------------------------------------------------------


def error_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(requests.HTTPError) as raised:
        call()
    return raised.value.response.status_code, str(raised.value)


def test_errors_surface_with_airtables_types(api: Api, standin: AppServer) -> None:
    orders = api.table(DEMO, "Orders")
    status, text = error_of(lambda: orders.get("recAAAAAAAAAAAAAA"))
    assert status == 404 and "NOT_FOUND" in text
    status, text = error_of(lambda: api.table(DEMO, "Invoices").all())
    assert status == 404 and "TABLE_NOT_FOUND" in text
    status, text = error_of(lambda: orders.all(fields=["Colour"]))
    assert status == 422 and "UNKNOWN_FIELD_NAME" in text and "Colour" in text
    status, text = error_of(lambda: orders.all(sort=["Colour"]))
    assert status == 422 and "UNKNOWN_FIELD_NAME" in text
    status, text = error_of(lambda: api.table(LOAD, "About").create({"Colour": "red"}))
    assert status == 422 and "UNKNOWN_FIELD_NAME" in text
    status, text = error_of(lambda: orders.all(formula="NOT({Order}"))
    assert status == 422 and "INVALID_FILTER_BY_FORMULA" in text
    status, text = error_of(lambda: orders.all(view="Kanban"))
    assert status == 422 and "VIEW_NAME_NOT_FOUND" in text
    status, text = error_of(lambda: Api("not-the-token", endpoint_url=standin.url).bases())
    assert status == 401 and "AUTHENTICATION_REQUIRED" in text
    status, text = error_of(lambda: api.base("appNoSuchBase0000").schema())
    assert status == 404 and "NOT_FOUND" in text


# Rate limit -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(module_apps: Apps) -> AppServer:
    # STANDIN_AIRTABLE_RATE_LIMIT unset: Airtable's 5 requests a second per base.
    return _serve(module_apps, STANDIN_AIRTABLE_RATE_LIMIT="")


def test_a_burst_gets_429s_and_pyairtables_retry_completes_every_call(limited: AppServer) -> None:
    api = Api(TOKEN, endpoint_url=limited.url, timeout=(5, 30))
    customers = api.table(DEMO, "Customers")
    ids = [r["id"] for r in customers.all()]  # one request
    calls, lock, seen = 20, threading.Lock(), []

    def fetch(record_id: str) -> dict:
        record = customers.get(record_id)
        with lock:
            seen.append(record_id)
        return record

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        records = list(pool.map(fetch, ids[:calls]))
    elapsed = time.monotonic() - started
    assert [r["id"] for r in records] == ids[:calls] and len(seen) == calls
    assert all(r["fields"]["Name"] for r in records)
    refused = sum(requests_seen(limited, "GET", f"/v0/{DEMO}/Customers/{i}", 429) for i in ids[:calls])
    assert refused > 0  # the stand-in did refuse some, and pyairtable waited and retried them
    assert elapsed >= (calls + 1) / 5 - 1.5  # at most 5 a second got through
    # Writes are retried too (pyairtable retries every method on 429).
    table = api.table(LOAD, "About")
    made = [table.create({"Name": f"burst {i}"}) for i in range(8)]
    assert len({r["id"] for r in made}) == 8
    assert len(table.all(formula="SEARCH('burst', {Name})")) == 8
