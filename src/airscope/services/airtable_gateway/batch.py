"""Concurrent writes to one table leave together: one request of up to 10 records, Airtable's most.

The first create (or update) of a table opens a batch; it waits a few milliseconds for company
(``AIRTABLE_WRITE_BATCH_WINDOW_MS``), then for its limiter token, and every create (update) of the
same table and ``typecast`` that arrives meanwhile joins it, until it holds 10 records. Waiting
for the token is what makes batching pay: when Airtable's 5 requests/s are the bottleneck, writes
queue there anyway, and the queue fills one request instead of ten. An idle base costs a write
only the window. Each caller gets its own records back: Airtable answers a batch in its order.

An update of a record already in the open batch starts the next batch, so two changes of one
record are never sent in one request (Airtable's order within it is not promised). When Airtable
refuses a batch of several writes as a whole (a 4xx: one unknown field, one missing record), each
write is sent again on its own, so each caller gets its own answer and one bad write never fails
the others; a 5xx or timeout is every caller's answer, since the batch may have been written.

The batch is sent by a task of its own: a caller that leaves (its client gave up) does not cancel
the others' writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from airscope.services.airtable_gateway.metrics import CALLS_SAVED
from airscope.services.common import ServiceError

MAX_RECORDS = 10  # Airtable's most records in one create or update

Send = Callable[[list[dict], bool], Awaitable[list[dict]]]
"""Sends records in one request; the flag says the limiter token is already held."""


@dataclass
class _Write:
    records: list[dict]
    answer: asyncio.Future[list[dict]]


@dataclass
class _Batch:
    send: Send
    writes: list[_Write] = field(default_factory=list)
    record_ids: set[str] = field(default_factory=set)
    size: int = 0

    def fits(self, records: list[dict]) -> bool:
        ids = {record["id"] for record in records if "id" in record}
        return self.size + len(records) <= MAX_RECORDS and not ids & self.record_ids


class WriteBatcher:
    def __init__(self, window_seconds: float, reserve: Callable[[str], Awaitable[None]]) -> None:
        self._window = window_seconds
        self._reserve = reserve
        self._open: dict[tuple, _Batch] = {}
        self._sending: set[asyncio.Task] = set()  # held, so a running batch is never collected

    async def write(self, key: tuple, base_id: str, records: list[dict], send: Send) -> list[dict]:
        """``records`` written through the batch of ``key`` (same base, table, kind of write and
        typecast); ``send(records, reserved)`` writes a batch's records in one request."""
        if self._window <= 0:
            return await send(records, False)
        batch = self._open.get(key)
        if batch is None or not batch.fits(records):
            batch = self._open[key] = _Batch(send)
            task = asyncio.create_task(self._run(key, base_id, batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        answer: asyncio.Future[list[dict]] = asyncio.get_running_loop().create_future()
        # The caller may have left by the time the answer comes: retrieved, so it is never "unretrieved".
        answer.add_done_callback(lambda done: done.cancelled() or done.exception())
        batch.writes.append(_Write(records, answer))
        batch.size += len(records)
        batch.record_ids.update(record["id"] for record in records if "id" in record)
        if batch.size == MAX_RECORDS:
            self._close(key, batch)
        return await asyncio.shield(answer)

    def _close(self, key: tuple, batch: _Batch) -> None:
        if self._open.get(key) is batch:
            del self._open[key]

    async def _run(self, key: tuple, base_id: str, batch: _Batch) -> None:
        try:
            await asyncio.sleep(self._window)
            await self._reserve(base_id)  # the batch keeps filling while it queues for its token
        except asyncio.CancelledError:  # the service stops
            self._close(key, batch)
            _fail(batch.writes, None)
            raise
        except Exception as error:  # Airtable asked for more silence than a caller may wait
            self._close(key, batch)
            _fail(batch.writes, error)
            return
        self._close(key, batch)
        await _send(batch)


async def _send(batch: _Batch) -> None:
    records = [record for write in batch.writes for record in write.records]
    try:
        written = await batch.send(records, True)
        if len(written) != len(records):
            raise ServiceError(502, "airtable_error", "Airtable answered a batch with a different count")
    except ServiceError as error:
        if error.status < 500 and len(batch.writes) > 1:
            # Refused as a whole: each on its own, so each caller gets its own answer.
            await asyncio.gather(*(_alone(write, batch.send) for write in batch.writes))
        else:
            _fail(batch.writes, error)
        return
    except asyncio.CancelledError:
        _fail(batch.writes, None)
        raise
    except Exception as error:  # the callers get it, as they would have without the batch
        _fail(batch.writes, error)
        return
    CALLS_SAVED.labels("batched").inc(len(batch.writes) - 1)
    start = 0
    for write in batch.writes:
        write.answer.set_result(written[start : start + len(write.records)])
        start += len(write.records)


async def _alone(write: _Write, send: Send) -> None:
    try:
        write.answer.set_result(await send(write.records, False))
    except Exception as error:
        write.answer.set_exception(error)


def _fail(writes: list[_Write], error: Exception | None) -> None:
    """Every write of the batch answered ``error``, or cancelled when None."""
    for write in writes:
        if not write.answer.done():
            if error is None:
                write.answer.cancel()
            else:
                write.answer.set_exception(error)
