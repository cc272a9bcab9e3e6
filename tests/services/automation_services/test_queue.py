"""The Redis job queue against a real Redis: order, acknowledgement, retries, dead letters, recovery."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from airscope.services.automation_services.queue import Job, Queue, consume

pytestmark = [pytest.mark.infra, pytest.mark.anyio]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _queue(client: Redis, clock: Clock, consumer: str, **options) -> Queue:
    defaults = {"max_attempts": 3, "backoff_seconds": 10.0, "clock": clock, "jitter": lambda: 0.0}
    return Queue(client, "test", consumer=consumer, **{**defaults, **options})


def _counter(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"queue": "test"}) or 0.0


async def test_jobs_are_taken_first_in_first_out_and_leave_when_acknowledged(
    client: Redis, clock: Clock
) -> None:
    queue = _queue(client, clock, "a")
    await queue.enqueue("first")
    clock.now += 1
    await queue.enqueue("second")

    job = await queue.take(timeout_seconds=0.1)
    assert (job.id, job.attempts, job.enqueued_at) == ("first", 0, 1_000_000.0)
    assert await client.lrange(queue.processing_key, 0, -1) == [job.raw]
    await queue.ack(job)
    assert await client.llen(queue.processing_key) == 0
    assert (await queue.take(timeout_seconds=0.1)).id == "second"
    assert await queue.take(timeout_seconds=0.1) is None


async def test_a_retry_waits_its_backoff_plus_up_to_half_of_it_again(client: Redis, clock: Clock) -> None:
    queue = _queue(client, clock, "j", jitter=lambda: 1.0)
    await queue.enqueue("job")
    await queue.fail(await queue.take(timeout_seconds=0.1))
    clock.now += 14.9
    assert await queue.take(timeout_seconds=0.1) is None
    clock.now += 0.1
    assert (await queue.take(timeout_seconds=0.1)).id == "job"


async def test_failed_attempts_wait_out_a_growing_backoff_then_go_to_the_dead_letters(
    client: Redis, clock: Clock
) -> None:
    queue = _queue(client, clock, "a")
    retries, dead = _counter("automation_job_retries_total"), _counter("automation_jobs_dead_lettered_total")
    await queue.enqueue("job")

    assert await queue.fail(await queue.take(timeout_seconds=0.1)) is True
    assert await queue.depth() == 1  # waiting out its backoff still counts as waiting
    clock.now += 9
    assert await queue.take(timeout_seconds=0.1) is None
    clock.now += 1
    second = await queue.take(timeout_seconds=0.1)
    assert (second.id, second.attempts) == ("job", 1)

    assert await queue.fail(second) is True
    clock.now += 19  # the second backoff is twice the first
    assert await queue.take(timeout_seconds=0.1) is None
    clock.now += 1
    third = await queue.take(timeout_seconds=0.1)
    assert third.attempts == 2

    assert await queue.fail(third) is False
    assert [j.id for j in await queue.dead_letters()] == ["job"]
    assert await queue.depth() == 0
    assert await client.llen(queue.processing_key) == 0
    assert _counter("automation_job_retries_total") - retries == 2
    assert _counter("automation_jobs_dead_lettered_total") - dead == 1


async def test_a_crashed_consumers_jobs_are_requeued_once_its_heartbeat_lapses(
    client: Redis, clock: Clock
) -> None:
    crashed = _queue(client, clock, "crashed", heartbeat_ttl_seconds=0.3)
    survivor = _queue(client, clock, "survivor")
    await crashed.enqueue("job")
    taken = await crashed.take(timeout_seconds=0.1)  # ...and the process dies holding it
    assert taken is not None

    assert await survivor.recover() == 0  # its heartbeat is still alive: it may be working
    await asyncio.sleep(0.4)
    assert await survivor.recover() == 1
    assert await survivor.recover() == 0  # recovered once only

    again = await survivor.take(timeout_seconds=0.1)
    assert (again.id, again.attempts) == ("job", 1)
    assert await client.llen(crashed.processing_key) == 0


async def test_a_job_that_keeps_crashing_its_worker_ends_in_the_dead_letters(
    client: Redis, clock: Clock
) -> None:
    survivor = _queue(client, clock, "survivor", max_attempts=1)
    crashed = _queue(client, clock, "crashed", max_attempts=1)
    await crashed.enqueue("poison")
    await crashed.take(timeout_seconds=0.1)
    await crashed.leave()  # a clean stop would have released it; here the job is left behind

    assert await survivor.recover() == 0
    assert [j.id for j in await survivor.dead_letters()] == ["poison"]


async def test_released_jobs_go_back_first_in_line_unchanged(client: Redis, clock: Clock) -> None:
    queue = _queue(client, clock, "a")
    await queue.enqueue("one")
    await queue.enqueue("two")
    job = await queue.take(timeout_seconds=0.1)
    await queue.release(job)
    again = await queue.take(timeout_seconds=0.1)
    assert again.raw == job.raw


async def test_depth_and_age_of_the_oldest_waiting_job(client: Redis, clock: Clock) -> None:
    queue = _queue(client, clock, "a")
    assert (await queue.depth(), await queue.oldest_age_seconds()) == (0, 0.0)
    await queue.enqueue("old")
    clock.now += 5
    await queue.enqueue("new")
    clock.now += 2
    assert (await queue.depth(), await queue.oldest_age_seconds()) == (2, 7.0)


async def test_a_worker_retries_a_failing_job_and_gives_up_after_the_last_attempt(client: Redis) -> None:
    queue = Queue(client, "test", max_attempts=3, backoff_seconds=0.01)
    done = asyncio.Event()
    attempts: list[int] = []
    given_up: list[str] = []

    class Failing:
        async def handle(self, job: Job) -> None:
            attempts.append(job.attempts)
            raise RuntimeError("gateway down")

        async def give_up(self, job: Job, reason: str) -> None:
            given_up.append(reason)
            done.set()

    await queue.enqueue("job")
    worker = asyncio.create_task(consume(queue, Failing()))
    try:
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        worker.cancel()
    assert attempts == [0, 1, 2]
    assert given_up == ["gateway down"]
    assert await client.llen(queue.processing_key) == 0


async def test_each_job_is_one_consumer_span_and_polling_makes_none(client: Redis, monkeypatch) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.trace import SpanKind, StatusCode

    from airscope.services.automation_services import queue as queue_module
    from airscope.telemetry import untraced
    from airscope.telemetry.testing import in_memory_tracer_provider

    provider, spans = in_memory_tracer_provider()
    monkeypatch.setattr(queue_module, "_tracer", provider.get_tracer("test"))
    RedisInstrumentor().instrument(tracer_provider=provider)
    queue = Queue(client, "test", max_attempts=1, backoff_seconds=0.01)
    handled = asyncio.Event()

    class Handler:
        async def handle(self, job: Job) -> None:
            await client.get("airscope:test:touched")  # a call the job makes
            handled.set()
            if job.id == "bad":
                raise RuntimeError("bad row")

        async def give_up(self, job: Job, reason: str) -> None:
            pass

    worker = asyncio.create_task(consume(queue, Handler()))
    try:
        await asyncio.sleep(1.5)  # idle polling: more than one take() round trip
        assert spans.get_finished_spans() == ()
        with untraced():  # the test's own calls
            await queue.enqueue("good")
        await asyncio.wait_for(handled.wait(), timeout=5)
        handled.clear()
        with untraced():
            await queue.enqueue("bad")
        await asyncio.wait_for(handled.wait(), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        worker.cancel()
        RedisInstrumentor().uninstrument()

    jobs = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert [(s.name, s.attributes["messaging.message.id"]) for s in jobs] == [
        ("test process", "good"),
        ("test process", "bad"),
    ]
    assert [s.status.status_code for s in jobs] == [StatusCode.UNSET, StatusCode.ERROR]
    roots = {s.context.trace_id for s in jobs}
    assert {s.context.trace_id for s in spans.get_finished_spans()} == roots  # nothing else is a trace
