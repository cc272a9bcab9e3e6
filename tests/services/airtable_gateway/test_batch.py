"""Write batching: concurrent writes to one table leave in one request of up to 10 records, each
caller gets its own records, a batch refused as a whole is split, one record is never twice in a batch."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from airscope.services.airtable_gateway.batch import WriteBatcher
from airscope.services.common import ServiceError

pytestmark = pytest.mark.anyio

WINDOW = 0.005
BASE = "appAAAAAAAAAAAAAA"


class Airtable:
    """Records every request; answers each record with an id, or refuses a request holding a bad one."""

    def __init__(self) -> None:
        self.requests: list[tuple[list[dict], bool]] = []
        self.reserved: list[str] = []
        self.token = asyncio.Event()
        self.token.set()

    async def reserve(self, base_id: str) -> None:
        self.reserved.append(base_id)
        await self.token.wait()

    async def send(self, records: list[dict], reserved: bool) -> list[dict]:
        self.requests.append((records, reserved))
        if any(record["fields"].get("bad") for record in records):
            raise ServiceError(422, "invalid_request", "Airtable rejected the request: UNKNOWN_FIELD_NAME")
        return [{"id": record.get("id", f"rec{record['fields']['n']}"), **record} for record in records]


def _new(n: int, **fields) -> list[dict]:
    return [{"fields": {"n": n, **fields}}]


def _saved() -> float:
    return REGISTRY.get_sample_value("airtable_calls_saved_total", {"reason": "batched"}) or 0.0


async def test_concurrent_creates_leave_as_one_request_and_each_gets_its_own_record() -> None:
    airtable = Airtable()
    batcher = WriteBatcher(WINDOW, airtable.reserve)
    before = _saved()

    answers = await asyncio.gather(
        *(batcher.write(("create", BASE, "Orders"), BASE, _new(n), airtable.send) for n in range(4))
    )

    assert [answer[0]["id"] for answer in answers] == ["rec0", "rec1", "rec2", "rec3"]
    assert len(airtable.requests) == 1
    assert airtable.requests[0][1] is True  # sent on the token the batch waited for
    assert airtable.reserved == [BASE]
    assert _saved() - before == 3


async def test_the_batch_fills_while_it_waits_for_its_token_up_to_ten_records() -> None:
    airtable = Airtable()
    airtable.token.clear()  # the base's limiter is busy
    batcher = WriteBatcher(WINDOW, airtable.reserve)
    writes = [
        asyncio.create_task(batcher.write(("create", BASE, "Orders"), BASE, _new(n), airtable.send))
        for n in range(3)
    ]
    await asyncio.sleep(WINDOW * 4)  # past the window: the batch now waits for its token
    writes += [
        asyncio.create_task(batcher.write(("create", BASE, "Orders"), BASE, _new(n) * 3, airtable.send))
        for n in range(3, 6)
    ]  # 3 + 3 x 3 = 12 records: the third of these starts the next batch
    await asyncio.sleep(0)
    airtable.token.set()
    answers = await asyncio.gather(*writes)

    assert [len(records) for records, _ in airtable.requests] == [9, 3]
    assert [len(answer) for answer in answers] == [1, 1, 1, 3, 3, 3]
    assert answers[4] == [{"id": "rec4", "fields": {"n": 4}}] * 3


async def test_other_tables_and_kinds_of_write_go_in_batches_of_their_own() -> None:
    airtable = Airtable()
    batcher = WriteBatcher(WINDOW, airtable.reserve)

    await asyncio.gather(
        batcher.write(("create", BASE, "Orders"), BASE, _new(1), airtable.send),
        batcher.write(("create", BASE, "Customers"), BASE, _new(2), airtable.send),
        batcher.write(("update", BASE, "Orders"), BASE, [{"id": "recA", "fields": {"n": 3}}], airtable.send),
    )

    assert len(airtable.requests) == 3


async def test_two_updates_of_one_record_never_share_a_request() -> None:
    airtable = Airtable()
    batcher = WriteBatcher(WINDOW, airtable.reserve)
    key = ("update", BASE, "Orders")

    first, second, other = await asyncio.gather(
        batcher.write(key, BASE, [{"id": "recA", "fields": {"n": 1}}], airtable.send),
        batcher.write(key, BASE, [{"id": "recA", "fields": {"n": 2}}], airtable.send),
        batcher.write(key, BASE, [{"id": "recB", "fields": {"n": 3}}], airtable.send),
    )

    assert [[r["id"] for r in records] for records, _ in airtable.requests] == [["recA"], ["recA", "recB"]]
    assert (first[0]["fields"], second[0]["fields"], other[0]["fields"]) == ({"n": 1}, {"n": 2}, {"n": 3})


async def test_a_batch_refused_as_a_whole_is_sent_again_one_write_at_a_time() -> None:
    airtable = Airtable()
    batcher = WriteBatcher(WINDOW, airtable.reserve)

    good, bad, also_good = await asyncio.gather(
        batcher.write(("create", BASE, "Orders"), BASE, _new(1), airtable.send),
        batcher.write(("create", BASE, "Orders"), BASE, _new(2, bad=True), airtable.send),
        batcher.write(("create", BASE, "Orders"), BASE, _new(3), airtable.send),
        return_exceptions=True,
    )

    assert good[0]["id"] == "rec1" and also_good[0]["id"] == "rec3"
    assert isinstance(bad, ServiceError) and bad.status == 422
    assert [len(records) for records, _ in airtable.requests] == [3, 1, 1, 1]
    assert [reserved for _, reserved in airtable.requests] == [True, False, False, False]


async def test_a_server_error_is_every_writers_answer_and_nothing_is_sent_again() -> None:
    airtable = Airtable()

    async def broken(records: list[dict], reserved: bool) -> list[dict]:
        airtable.requests.append((records, reserved))
        raise ServiceError(504, "airtable_timeout", "Airtable did not answer in time")

    batcher = WriteBatcher(WINDOW, airtable.reserve)
    answers = await asyncio.gather(
        *(batcher.write(("create", BASE, "Orders"), BASE, _new(n), broken) for n in range(3)),
        return_exceptions=True,
    )

    assert [answer.status for answer in answers] == [504] * 3
    assert len(airtable.requests) == 1  # a write that may have happened is never repeated


async def test_a_writer_that_leaves_does_not_cancel_the_others() -> None:
    airtable = Airtable()
    airtable.token.clear()
    batcher = WriteBatcher(WINDOW, airtable.reserve)
    leaving = asyncio.create_task(batcher.write(("create", BASE, "Orders"), BASE, _new(1), airtable.send))
    staying = asyncio.create_task(batcher.write(("create", BASE, "Orders"), BASE, _new(2), airtable.send))
    await asyncio.sleep(WINDOW * 2)
    leaving.cancel()
    airtable.token.set()

    assert (await staying)[0]["id"] == "rec2"
    assert len(airtable.requests[0][0]) == 2  # the leaver's write was made all the same


async def test_a_window_of_zero_sends_each_write_alone() -> None:
    airtable = Airtable()
    batcher = WriteBatcher(0, airtable.reserve)

    await asyncio.gather(
        *(batcher.write(("create", BASE, "T"), BASE, _new(n), airtable.send) for n in range(3))
    )

    assert [(len(records), reserved) for records, reserved in airtable.requests] == [(1, False)] * 3
    assert airtable.reserved == []
