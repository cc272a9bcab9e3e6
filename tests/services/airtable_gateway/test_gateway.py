"""airtable-gateway end to end: the real Airtable stand-in and the gateway as subprocesses, real Redis.

One stand-in and one gateway serve the module (each test uses its own table, record or query, so
the cache of one cannot answer another); tests that need other settings or a broken dependency
start their own gateway. Metrics are compared before and after, never as absolute values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from airscope.local.redis import RedisServer
from airscope.local.traces import read_spans
from tests.servers import Apps, AppServer, clear_faults, movement, scrape, set_faults, value
from tests.support import redis_database, wait_until

pytestmark = [pytest.mark.infra, pytest.mark.usefixtures("airtable_faults_cleared")]

GATEWAY = "airscope.services.airtable_gateway"
BASE = "appAirscopeDemo01"
LOAD_BASE_ID = "appAirscopeLoad01"  # the second seeded base ("About"), read only by the limiter test
UNKNOWN_BASE = "appNoSuchBase0000"
API_KEY = "patAirscopeTest.0123456789abcdef-secret"
MODULE_DB, OWN_DB = 9, 10  # Redis databases of this module's gateways, emptied before each starts


def _gateway_env(airtable_url: str, redis_url: str, trace_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "AIRTABLE_API_URL": airtable_url,
        "AIRTABLE_API_KEY": API_KEY,
        "REDIS_URL": redis_url,
        "AIRSCOPE_TRACE_DIR": str(trace_dir),
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(module_apps: Apps, airtable_standin: AppServer, redis_server) -> AppServer:
    env = _gateway_env(
        airtable_standin.url, redis_database(redis_server.url, MODULE_DB), module_apps.directory / "traces"
    )
    return module_apps.start(GATEWAY, env)


@pytest.fixture
def own_gateway(
    run_app, airtable_standin: AppServer, redis_server, tmp_path: Path
) -> Callable[..., AppServer]:
    """Starts a gateway of the test's own with these settings, on an emptied Redis database."""

    def start(**settings: str) -> AppServer:
        redis_url = redis_database(redis_server.url, OWN_DB)
        return run_app(
            GATEWAY, env=_gateway_env(airtable_standin.url, redis_url, tmp_path / "traces", **settings)
        )

    return start


@pytest.fixture
def api(gateway: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def _records(table: str) -> str:
    return f"/bases/{BASE}/tables/{table}/records"


def _burst(url: str, paths: list[str]) -> list[httpx.Response]:
    """All ``paths`` requested at once, each from its own thread."""
    with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(client.get, paths))


def _check(health: dict, name: str) -> dict:
    return next(entry[0] for key, entry in health["checks"].items() if key.startswith(f"{name}:"))


# -- reads --------------------------------------------------------------------------------------


def test_lists_the_bases_and_the_tables_of_a_base(api: httpx.Client) -> None:
    bases = api.get("/bases")
    assert bases.status_code == 200
    assert {"id": BASE, "name": "Airscope Demo"}.items() <= bases.json()["bases"][0].items()

    tables = api.get(f"/bases/{BASE}/tables").json()["tables"]
    # The seeded tables; other tests of this module may have added theirs.
    assert {"Customers", "Orders", "Products"} <= {table["name"] for table in tables}
    assert all({"id", "primaryFieldId", "fields"} <= table.keys() for table in tables)


def test_unknown_bases_and_tables_are_404_and_malformed_ids_422(api: httpx.Client) -> None:
    missing_base = api.get(f"/bases/{UNKNOWN_BASE}/tables")
    assert missing_base.status_code == 404
    assert missing_base.json()["error"] == "not_found"

    missing_table = api.get(_records("NoSuchTable"))
    assert missing_table.status_code == 404
    assert missing_table.json()["error"] == "not_found"
    assert missing_table.json()["message"].startswith("Airtable:")

    malformed = api.get("/bases/not-a-base/tables")
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "invalid_request"


def test_list_records_follows_pagination_up_to_max_records(api: httpx.Client, gateway: AppServer) -> None:
    # Products has 12 records; 100 more make Airtable answer in two pages of at most 100.
    for batch in range(10):
        created = api.post(
            _records("Products"),
            json={"records": [{"fields": {"Name": f"Bulk {batch}-{n}", "Stock": n}} for n in range(10)]},
        )
        assert created.status_code == 200, created.text
    before = scrape(gateway.url)

    everything = api.get(_records("Products"), params={"maxRecords": 1000})

    assert everything.status_code == 200
    records = everything.json()["records"]
    assert len(records) == 112
    assert len({record["id"] for record in records}) == 112
    # Answered pages (an earlier test's burst in the same second may add a 429 and its retry).
    pages = movement(before, scrape(gateway.url))(
        "airtable_request_duration_seconds_count", operation="list_records", status="200"
    )
    assert pages == 2

    some = api.get(_records("Products"), params={"maxRecords": 3, "fields": ["Name"]}).json()["records"]
    assert len(some) == 3
    assert all(set(record["fields"]) <= {"Name"} for record in some)


def test_list_records_filters_and_sorts(api: httpx.Client) -> None:
    params = {
        "filterByFormula": '{Status} = "Shipped"',
        "sort_field": "Amount",
        "sort_direction": "desc",
        "maxRecords": 50,
    }
    records = api.get(_records("Orders"), params=params).json()["records"]
    assert records
    assert {record["fields"]["Status"] for record in records} == {"Shipped"}
    amounts = [record["fields"]["Amount"] for record in records]
    assert amounts == sorted(amounts, reverse=True)


# -- the cache ----------------------------------------------------------------------------------


def test_a_second_read_is_a_cache_hit(api: httpx.Client, gateway: AppServer) -> None:
    record_id = api.get(_records("Orders"), params={"maxRecords": 1}).json()["records"][0]["id"]
    before = scrape(gateway.url)

    first = api.get(f"{_records('Orders')}/{record_id}")
    second = api.get(f"{_records('Orders')}/{record_id}")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    delta = movement(before, scrape(gateway.url))

    assert delta("airtable_cache_requests_total", operation="get_record", result="miss") == 1
    assert delta("airtable_cache_requests_total", operation="get_record", result="hit") == 1
    # One answered read upstream (a 429 from an earlier test's burst may add a retried attempt).
    assert delta("airtable_request_duration_seconds_count", operation="get_record", status="200") == 1


def test_reads_after_writes_see_the_writes(api: httpx.Client) -> None:
    created = api.post(_records("Customers"), json={"records": [{"fields": {"Name": "Mary Somerville"}}]})
    assert created.status_code == 200, created.text
    (record,) = created.json()["records"]
    url = f"{_records('Customers')}/{record['id']}"
    listing = {"maxRecords": 1000, "fields": ["Name"]}

    assert api.get(url).json()["fields"]["Name"] == "Mary Somerville"  # now cached
    assert "Mary Somerville" in {
        r["fields"].get("Name") for r in api.get(_records("Customers"), params=listing).json()["records"]
    }

    updated = api.patch(url, json={"fields": {"City": "Jedburgh"}})
    assert updated.status_code == 200
    assert updated.json()["fields"]["City"] == "Jedburgh"
    assert api.get(url).json()["fields"]["City"] == "Jedburgh"

    batch = api.patch(
        _records("Customers"), json={"records": [{"id": record["id"], "fields": {"Tier": "Gold"}}]}
    )
    assert batch.status_code == 200
    assert batch.json()["records"][0]["fields"]["Tier"] == "Gold"
    assert api.get(url).json()["fields"]["Tier"] == "Gold"

    deleted = api.delete(url)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": record["id"], "deleted": True}
    assert api.get(url).status_code == 404
    names = {
        r["fields"].get("Name") for r in api.get(_records("Customers"), params=listing).json()["records"]
    }
    assert "Mary Somerville" not in names


def test_concurrent_creates_to_a_table_leave_in_fewer_requests_each_with_its_own_record(
    own_gateway: Callable[..., AppServer],
) -> None:
    # A window wide enough for ten threads' requests on a busy machine (5 ms by default).
    gateway = own_gateway(AIRTABLE_WRITE_BATCH_WINDOW_MS="200")
    before = scrape(gateway.url)
    names = [f"Batched {n}" for n in range(10)]

    with httpx.Client(base_url=gateway.url, timeout=30) as client, ThreadPoolExecutor(10) as pool:
        answers = list(
            pool.map(
                lambda name: client.post(
                    _records("Customers"), json={"records": [{"fields": {"Name": name}}]}
                ),
                names,
            )
        )

    assert [answer.status_code for answer in answers] == [200] * 10
    assert [answer.json()["records"][0]["fields"]["Name"] for answer in answers] == names
    assert len({answer.json()["records"][0]["id"] for answer in answers}) == 10
    moved = movement(before, scrape(gateway.url))
    sent = moved("airtable_request_duration_seconds_count", operation="create_records")
    assert sent <= 5
    assert moved("airtable_calls_saved_total", reason="batched") == 10 - sent


def test_many_reads_a_second_with_writes_among_them_and_airtable_never_past_its_limit(
    api: httpx.Client, gateway: AppServer
) -> None:
    # A table of its own, so that only this test's writes move its generation.
    table = api.post(f"/bases/{BASE}/tables", json=_new_table("Busy Readings")).json()["name"]
    api.post(_records(table), json={"records": [{"fields": {"Task": "seed"}}]}).raise_for_status()
    before = scrape(gateway.url)
    deadline = time.monotonic() + 4

    def reader(n: int) -> tuple[int, int]:
        served = failed = 0
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            while time.monotonic() < deadline:
                if n == 0:  # one writer among the readers: every write makes the table's reads miss
                    answer = client.post(_records(table), json={"records": [{"fields": {"Task": "more"}}]})
                    time.sleep(0.3)
                else:
                    answer = client.get(_records(table), params={"maxRecords": 1 + n % 3})
                    served += 1
                failed += answer.status_code != 200
        return served, failed

    started = time.monotonic()
    with ThreadPoolExecutor(9) as pool:
        results = list(pool.map(reader, range(9)))
    elapsed = time.monotonic() - started
    reads, failures = sum(r for r, _ in results), sum(f for _, f in results)
    moved = movement(before, scrape(gateway.url))
    queries = moved("airtable_request_duration_seconds_count")

    assert failures == 0  # not one 429 reached a caller
    assert queries <= 5 * (elapsed + 1)
    # The stand-in refuses (429) a request past 5 in a sliding second, as Airtable does. On a busy
    # machine a request that leaves late can arrive within the second of the next (the drill
    # airtable-saturated sees it too); the margin then widens, so one such at most.
    assert moved("airtable_rate_limited_responses_total") <= 1
    assert reads / elapsed >= 5 * queries / elapsed and reads / elapsed > 25
    assert moved("airtable_cache_requests_total", operation="list_records", result="hit") > 0


# -- bad input ----------------------------------------------------------------------------------


def test_bad_input_is_refused_with_a_message(api: httpx.Client) -> None:
    eleven = api.post(
        _records("Customers"), json={"records": [{"fields": {"Name": f"n{n}"}} for n in range(11)]}
    )
    assert eleven.status_code == 422
    assert eleven.json()["error"] == "invalid_request"
    assert "records" in eleven.json()["message"]

    none = api.patch(_records("Customers"), json={"records": []})
    assert none.status_code == 422

    too_many = api.get(_records("Customers"), params={"maxRecords": 5000})
    assert too_many.status_code == 422
    assert "maxRecords" in too_many.json()["message"]

    unknown_field = api.post(_records("Customers"), json={"records": [{"fields": {"No Such Field": 1}}]})
    assert unknown_field.status_code == 422
    assert unknown_field.json()["error"] == "invalid_request"
    assert unknown_field.json()["message"].startswith("Airtable rejected the request:")

    missing_record = api.get(f"{_records('Customers')}/recNoSuchRecord000")
    assert missing_record.status_code == 404


# -- rate limits --------------------------------------------------------------------------------


def test_the_client_side_limiter_keeps_a_burst_under_airtables_limit(gateway: AppServer) -> None:
    before = scrape(gateway.url)
    # Twelve different queries, so that none is answered from the cache, on the base no other test
    # reads: Airtable's limit is per base, and another test's requests in the same second would count.
    about = f"/bases/{LOAD_BASE_ID}/tables/About/records"
    answers = _burst(gateway.url, [f"{about}?maxRecords={n}" for n in range(1, 13)])

    assert [answer.status_code for answer in answers] == [200] * 12
    moved = movement(before, scrape(gateway.url))
    # The limiter spaces the requests as they leave; on a busy machine the stand-in may count the
    # first ones late and refuse one (it held 1 in 3 runs at a load of 6 on 2 cores): retried, unseen.
    refused = moved("airtable_rate_limited_responses_total")
    assert refused <= 1
    assert moved("airtable_request_duration_seconds_count", status="429") == refused
    assert moved("airtable_rate_limit_wait_seconds_count") == 12 + refused
    assert (
        moved("airtable_rate_limit_wait_seconds_sum") >= 5 * 0.9
    )  # at least the five requests beyond the first burst waited about a second


def test_429s_from_airtable_are_retried_after_retry_after(own_gateway: Callable[..., AppServer]) -> None:
    # A limiter far above Airtable's lets the stand-in refuse part of the burst.
    gateway = own_gateway(AIRTABLE_RATE_LIMIT_PER_SECOND="100")

    answers = _burst(gateway.url, [f"{_records('Products')}?maxRecords={n}" for n in range(1, 13)])

    assert [answer.status_code for answer in answers] == [200] * 12
    samples = scrape(gateway.url)
    refused = value(samples, "airtable_rate_limited_responses_total")
    # At least the sixth of the burst; how many more left before the first 429 came back (and held
    # the base until its Retry-After) depends on the machine's pace.
    assert refused >= 1
    assert (
        value(samples, "airtable_retries_total", operation="list_records", reason="rate_limited") == refused
    )
    assert value(samples, "airtable_rate_limit_window_seconds") > 1.05  # the margin widened


def test_429s_beyond_the_attempts_become_503_with_retry_after(own_gateway: Callable[..., AppServer]) -> None:
    gateway = own_gateway(AIRTABLE_RATE_LIMIT_PER_SECOND="100", AIRTABLE_MAX_ATTEMPTS="1")

    answers = _burst(gateway.url, [f"{_records('Customers')}?maxRecords={n}" for n in range(1, 13)])

    refused = [answer for answer in answers if answer.status_code != 200]
    # Those sent before the first 429 came back; the rest waited out its Retry-After in the limiter.
    assert len(refused) >= 1
    assert len(refused) == value(scrape(gateway.url), "airtable_rate_limited_responses_total")
    for answer in refused:
        assert answer.status_code == 503
        assert answer.json()["error"] == "airtable_rate_limited"
        assert int(answer.headers["Retry-After"]) >= 1


# -- Airtable failing ---------------------------------------------------------------------------


def test_airtable_down_is_a_clear_502_and_only_a_warning_in_health(
    api: httpx.Client, gateway: AppServer, airtable_standin: AppServer
) -> None:
    before = scrape(gateway.url)
    set_faults(airtable_standin, down=True)

    read = api.get(_records("Orders"), params={"maxRecords": 77})
    write = api.post(_records("Orders"), json={"records": [{"fields": {"Order": "ORD-down"}}]})

    for answer in (read, write):
        assert answer.status_code == 502
        assert answer.json()["error"] == "airtable_error"
        assert "503" in answer.json()["message"]
    delta = movement(before, scrape(gateway.url))

    assert delta("airtable_retries_total", operation="list_records", reason="server_error") == 2  # 3 attempts
    assert delta("airtable_retries_total", operation="create_records") == 0  # a write is never repeated
    assert delta("airtable_request_duration_seconds_count", operation="list_records", status="503") == 3

    def airtable_warns() -> bool:
        health = api.get("/health")
        return health.status_code == 200 and _check(health.json(), "airtable")["status"] == "warn"

    wait_until(airtable_warns, 5, message="airtable warns in /health")
    health = api.get("/health").json()
    assert health["status"] == "warn"
    assert _check(health, "redis")["status"] == "pass"
    assert api.get("/health/ready").status_code == 200


def test_a_slow_airtable_is_a_504_after_bounded_retries(
    own_gateway: Callable[..., AppServer], airtable_standin: AppServer
) -> None:
    gateway = own_gateway(AIRTABLE_TIMEOUT_SECONDS="0.3")
    set_faults(airtable_standin, extra_latency_ms=800)

    answer = httpx.get(gateway.url + _records("Orders"), timeout=30)

    assert answer.status_code == 504
    assert answer.json()["error"] == "airtable_timeout"
    samples = scrape(gateway.url)
    assert value(samples, "airtable_retries_total", operation="list_records", reason="timeout") == 2
    assert (
        value(samples, "airtable_request_duration_seconds_count", operation="list_records", status="timeout")
        == 3
    )


def test_an_unreachable_airtable_is_a_503_and_the_service_stays_ready(
    run_app, redis_server, free_port, tmp_path: Path
) -> None:
    env = _gateway_env(
        f"http://127.0.0.1:{free_port()}", redis_database(redis_server.url, OWN_DB), tmp_path / "traces"
    )
    gateway = run_app(GATEWAY, env=env)

    answer = httpx.get(gateway.url + "/bases", timeout=30)

    assert answer.status_code == 503
    assert answer.json()["error"] == "airtable_unavailable"
    samples = scrape(gateway.url)
    assert (
        value(
            samples, "airtable_request_duration_seconds_count", operation="list_bases", status="unreachable"
        )
        == 3
    )
    health = httpx.get(gateway.url + "/health", timeout=10)
    assert health.status_code == 200
    assert _check(health.json(), "airtable")["status"] == "warn"
    assert httpx.get(gateway.url + "/health/ready", timeout=10).status_code == 200


# -- Redis failing ------------------------------------------------------------------------------


def test_without_redis_the_gateway_is_unready_but_still_answers(
    run_app, airtable_standin: AppServer, own_redis: RedisServer, tmp_path: Path
) -> None:
    own_redis.start()
    gateway = run_app(GATEWAY, env=_gateway_env(airtable_standin.url, own_redis.url, tmp_path / "traces"))
    assert httpx.get(gateway.url + "/health/ready", timeout=10).status_code == 200
    own_redis.stop()

    assert gateway.failing_checks() == {"redis"}
    assert httpx.get(gateway.url + "/health/ready", timeout=10).status_code == 503

    # The cache is an optimisation: reads go to Airtable, counted as misses, and the failure is logged.
    before = scrape(gateway.url)
    assert httpx.get(gateway.url + f"/bases/{BASE}/tables", timeout=30).status_code == 200
    moved = movement(before, scrape(gateway.url))
    assert moved("airtable_cache_requests_total", operation="list_tables", result="miss") == 1
    assert any(record.get("event", "").startswith("cache unavailable") for record in gateway.log_records())


# -- what the gateway exposes -------------------------------------------------------------------


def test_the_connection_pool_is_visible(api: httpx.Client, gateway: AppServer) -> None:
    api.get(_records("Orders"), params={"maxRecords": 2, "fields": ["Order"]})
    samples = scrape(gateway.url)
    assert value(samples, "airtable_pool_connections_limit") == 20
    open_connections = value(samples, "airtable_pool_connections", state="idle") + value(
        samples, "airtable_pool_connections", state="in_use"
    )
    assert 1 <= open_connections <= 20


def test_the_api_key_reaches_no_log_line_and_no_span(
    api: httpx.Client, gateway: AppServer, airtable_standin: AppServer, module_apps: Apps
) -> None:
    # A read Airtable fails, so the gateway logs its retries and exports its client spans too.
    set_faults(airtable_standin, error_rate=1.0)
    assert api.get(_records("Orders"), params={"maxRecords": 55}).status_code == 502
    clear_faults(airtable_standin)
    records = gateway.log_records()
    assert any(record.get("logger") == "access" for record in records)
    assert any(record.get("event") == "retrying Airtable request" for record in records)
    assert API_KEY not in gateway.log_path.read_text()
    trace_dir = module_apps.directory / "traces"
    wait_until(
        lambda: any(s.service == "airtable-gateway" and s.kind == 3 for s in read_spans(trace_dir)),
        timeout=15,
        message="the gateway's client spans exported",
    )
    assert API_KEY not in (trace_dir / "airtable-gateway.jsonl").read_text()


# -- tables: create (idempotent) and rename -------------------------------------------------------


def _new_table(name: str) -> dict:
    return {
        "name": name,
        "fields": [{"name": "Task", "type": "singleLineText"}, {"name": "Due", "type": "date"}],
    }


def _meta(airtable_standin: AppServer, method: str, json: dict | None = None) -> dict:
    """The stand-in's table list or a new table, straight from it (waiting out its rate limit)."""
    while True:
        answer = httpx.request(
            method,
            f"{airtable_standin.url}/v0/meta/bases/{BASE}/tables",
            json=json,
            headers={"Authorization": "Bearer t"},
            timeout=5,
        )
        if answer.status_code != 429:
            return answer.raise_for_status().json()
        time.sleep(float(answer.headers["Retry-After"]))


def _tables_named(airtable_standin: AppServer, name: str) -> list[dict]:
    return [table for table in _meta(airtable_standin, "GET")["tables"] if table["name"] == name]


def test_creates_a_table_and_a_cached_table_list_shows_it(api: httpx.Client, gateway: AppServer) -> None:
    assert "Sprint Tasks" not in {t["name"] for t in api.get(f"/bases/{BASE}/tables").json()["tables"]}
    before = scrape(gateway.url)

    created = api.post(
        f"/bases/{BASE}/tables", json={**_new_table("Sprint Tasks"), "description": "Sprint 1"}
    )

    assert created.status_code == 201, created.text
    table = created.json()
    assert (table["name"], table["description"]) == ("Sprint Tasks", "Sprint 1")
    assert [f["name"] for f in table["fields"]] == ["Task", "Due"]
    assert table in api.get(f"/bases/{BASE}/tables").json()["tables"]
    moved = movement(before, scrape(gateway.url))
    assert moved("airtable_request_duration_seconds_count", operation="create_table", status="200") == 1


def test_an_idempotency_key_makes_a_repeat_replay_the_first_answer(
    api: httpx.Client, airtable_standin: AppServer
) -> None:
    key = {"Idempotency-Key": "saga-1:create_tables"}
    first = api.post(f"/bases/{BASE}/tables", json=_new_table("Replayed Tasks"), headers=key)
    repeat = api.post(f"/bases/{BASE}/tables", json=_new_table("Replayed Tasks"), headers=key)

    assert (first.status_code, repeat.status_code) == (201, 201)
    assert repeat.json() == first.json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(_tables_named(airtable_standin, "Replayed Tasks")) == 1

    reused = api.post(f"/bases/{BASE}/tables", json=_new_table("Other Tasks"), headers=key)
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert _tables_named(airtable_standin, "Other Tasks") == []


def test_concurrent_repeats_of_a_key_create_one_table(
    gateway: AppServer, airtable_standin: AppServer
) -> None:
    set_faults(airtable_standin, extra_latency_ms=400)
    key = {"Idempotency-Key": "saga-2:create_tables"}
    with httpx.Client(base_url=gateway.url, timeout=30) as client, ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: client.post(f"/bases/{BASE}/tables", json=_new_table("Raced Tasks"), headers=key),
                range(4),
            )
        )

    assert [answer.status_code for answer in answers] == [201] * 4  # the repeats waited for the first
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(_tables_named(airtable_standin, "Raced Tasks")) == 1


def test_a_taken_table_name_is_409_and_the_refusal_is_replayed(api: httpx.Client) -> None:
    key = {"Idempotency-Key": "saga-3:create_tables"}
    for _ in range(2):
        taken = api.post(f"/bases/{BASE}/tables", json=_new_table("Orders"), headers=key)
        assert taken.status_code == 409
        assert taken.json()["error"] == "table_name_taken"


def test_a_failed_creation_leaves_the_key_free_for_a_retry(
    api: httpx.Client, airtable_standin: AppServer
) -> None:
    key = {"Idempotency-Key": "saga-4:create_tables"}
    set_faults(airtable_standin, error_rate=1.0)
    failed = api.post(f"/bases/{BASE}/tables", json=_new_table("Retried Tasks"), headers=key)
    assert failed.status_code == 502
    assert failed.json()["error"] == "airtable_error"
    clear_faults(airtable_standin)

    retried = api.post(f"/bases/{BASE}/tables", json=_new_table("Retried Tasks"), headers=key)

    assert retried.status_code == 201, retried.text
    assert len(_tables_named(airtable_standin, "Retried Tasks")) == 1


def test_a_retry_after_an_uncertain_failure_gets_the_table_the_lost_attempt_made(
    api: httpx.Client, airtable_standin: AppServer
) -> None:
    key = {"Idempotency-Key": "saga-5:create_tables"}
    set_faults(airtable_standin, error_rate=1.0)
    assert api.post(f"/bases/{BASE}/tables", json=_new_table("Lost Tasks"), headers=key).status_code == 502
    clear_faults(airtable_standin)
    # As if Airtable had made the table and only its answer was lost.
    made = _meta(airtable_standin, "POST", _new_table("Lost Tasks"))

    retried = api.post(f"/bases/{BASE}/tables", json=_new_table("Lost Tasks"), headers=key)

    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == made["id"]
    # Without that history the same name is a conflict, not someone else's table handed over.
    other = api.post(
        f"/bases/{BASE}/tables", json=_new_table("Lost Tasks"), headers={"Idempotency-Key": "k6"}
    )
    assert other.status_code == 409


def test_renames_a_table_and_the_cached_list_follows(api: httpx.Client, airtable_standin: AppServer) -> None:
    table = api.post(f"/bases/{BASE}/tables", json=_new_table("Renamed Tasks")).json()
    assert table in api.get(f"/bases/{BASE}/tables").json()["tables"]

    renamed = api.patch(f"/bases/{BASE}/tables/{table['id']}", json={"name": "[archived] Renamed Tasks"})

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "[archived] Renamed Tasks"
    names = {t["name"] for t in api.get(f"/bases/{BASE}/tables").json()["tables"]}
    assert "[archived] Renamed Tasks" in names and "Renamed Tasks" not in names
    assert api.patch(f"/bases/{BASE}/tables/{table['id']}", json={}).status_code == 422
    missing = api.patch(f"/bases/{BASE}/tables/tblNoSuchTable0000", json={"name": "x"})
    assert missing.status_code == 404
