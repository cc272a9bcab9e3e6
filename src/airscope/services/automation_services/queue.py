"""A reliable job queue in Redis: nothing is lost when a worker crashes, nothing retries forever.

Keys of queue ``<name>``, under ``automation:queue:<name>``:
- the key itself: waiting jobs (LPUSH in, consumed from the right: first in, first out);
- ``:processing:<consumer>``: the jobs a consumer (one process) has taken, moved there atomically
  by BLMOVE and removed only once handled, so a crash leaves them there;
- ``:alive:<consumer>``: the consumer's heartbeat, a key that expires unless refreshed;
- ``:consumers``: every consumer that ever took a job and has not been recovered;
- ``:delayed``: jobs waiting out a retry backoff (a sorted set scored by when they are due);
- ``:dead``: jobs that failed ``max_attempts`` times, kept for an operator (the newest 1000).

A job is JSON ``{"id", "attempts", "enqueued_at"}``: ``id`` names the work (a file, a run) kept
in PostgreSQL, ``attempts`` counts the attempts that failed. Recovery returns the jobs of a
consumer whose heartbeat lapsed to the waiting list with one more attempt counted, so a job that
crashes its worker every time ends in the dead letters too.

Delivery is at least once: a job runs again after a crash or a timeout that came after its work
was done, so handlers resume from their recorded progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import redis.exceptions
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from airscope.services.automation_services import metrics
from airscope.telemetry import get_logger, untraced

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)

PREFIX = "automation:queue"
DEAD_LETTERS_KEPT = 1000
HEARTBEAT_TTL_SECONDS = 15.0
MAINTENANCE_INTERVAL_SECONDS = 5.0
# How long a worker waits after Redis failed it before trying again.
REDIS_RETRY_SECONDS = 1.0

# Moves every job of a dead consumer's processing list back to the consuming end of the waiting
# list (or to the dead letters), counting the interrupted attempt; atomic, so two instances
# recovering the same consumer cannot both requeue a job.
_RECOVER = """
local requeued, dead = 0, 0
while true do
    local raw = redis.call('RPOP', KEYS[1])
    if not raw then break end
    local job = cjson.decode(raw)
    job.attempts = (tonumber(job.attempts) or 0) + 1
    if job.attempts >= tonumber(ARGV[1]) then
        redis.call('LPUSH', KEYS[3], cjson.encode(job))
        redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[2]) - 1)
        dead = dead + 1
    else
        redis.call('RPUSH', KEYS[2], cjson.encode(job))
        requeued = requeued + 1
    end
end
return {requeued, dead}
"""

# Takes one dead letter out and queues its job anew (no failed attempt counted), in one step: an
# operator's replay racing another's replay or discard queues the job at most once.
_REPLAY = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
"""

# Moves the delayed jobs that are due to the consuming end of the waiting list.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, raw in ipairs(due) do
    redis.call('ZREM', KEYS[1], raw)
    redis.call('RPUSH', KEYS[2], raw)
end
return #due
"""


@dataclass(frozen=True)
class Job:
    id: str
    attempts: int
    enqueued_at: float
    # The exact bytes held in Redis: acknowledging removes them from the processing list.
    raw: bytes

    @classmethod
    def decode(cls, raw: bytes) -> Job:
        data = orjson.loads(raw)
        return cls(
            id=str(data["id"]),
            attempts=int(data["attempts"]),
            enqueued_at=float(data["enqueued_at"]),
            raw=raw,
        )

    def encode(self, **changes: Any) -> bytes:
        data = {"id": self.id, "attempts": self.attempts, "enqueued_at": self.enqueued_at, **changes}
        return orjson.dumps(data)


class Queue:
    def __init__(
        self,
        redis: Redis,
        name: str,
        *,
        max_attempts: int,
        backoff_seconds: float,
        consumer: str | None = None,
        heartbeat_ttl_seconds: float = HEARTBEAT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.redis = redis
        self.name = name
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.consumer = consumer or uuid.uuid4().hex
        self.heartbeat_ttl_seconds = heartbeat_ttl_seconds
        self.clock = clock
        # Jobs that failed together (an upstream down for a minute) must not all come back in the same
        # instant and fail together again: each waits its backoff plus up to half of it again.
        self.jitter = jitter
        self.waiting_key = f"{PREFIX}:{name}"
        self.delayed_key = f"{PREFIX}:{name}:delayed"
        self.dead_key = f"{PREFIX}:{name}:dead"
        self.consumers_key = f"{PREFIX}:{name}:consumers"
        self.processing_key = self._processing_key(self.consumer)
        self._recover = redis.register_script(_RECOVER)
        self._promote = redis.register_script(_PROMOTE)
        self._replay = redis.register_script(_REPLAY)
        self._registered = False

    def _processing_key(self, consumer: str) -> str:
        return f"{PREFIX}:{self.name}:processing:{consumer}"

    def _alive_key(self, consumer: str) -> str:
        return f"{PREFIX}:{self.name}:alive:{consumer}"

    async def enqueue(self, job_id: str) -> None:
        await self.redis.lpush(
            self.waiting_key, orjson.dumps({"id": job_id, "attempts": 0, "enqueued_at": self.clock()})
        )

    async def take(self, timeout_seconds: float = 1.0) -> Job | None:
        """The next job, now in this consumer's processing list; None when none came in time."""
        if not self._registered:
            # Registered before holding any job, so a crash from now on is recovered.
            await self.heartbeat()
            self._registered = True
        await self._promote(keys=[self.delayed_key, self.waiting_key], args=[self.clock()])
        raw = await self.redis.blmove(self.waiting_key, self.processing_key, timeout_seconds, "RIGHT", "LEFT")
        return Job.decode(raw) if raw is not None else None

    async def ack(self, job: Job) -> None:
        """The job is done (or given up by its handler): it leaves the processing list."""
        await self.redis.lrem(self.processing_key, 1, job.raw)

    async def release(self, job: Job) -> None:
        """Puts a job back unchanged, first in line (this process is stopping; no attempt failed)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.processing_key, 1, job.raw)
            pipe.rpush(self.waiting_key, job.raw)
            await pipe.execute()

    async def fail(self, job: Job) -> bool:
        """An attempt failed: retried after a backoff (True) or, after max_attempts, dead-lettered (False)."""
        attempts = job.attempts + 1
        raw = job.encode(attempts=attempts)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.processing_key, 1, job.raw)
            if attempts < self.max_attempts:
                step = self.backoff_seconds * 2 ** (attempts - 1)
                due = self.clock() + step * (1 + self.jitter() / 2)
                pipe.zadd(self.delayed_key, {raw: due})
            else:
                pipe.lpush(self.dead_key, raw)
                pipe.ltrim(self.dead_key, 0, DEAD_LETTERS_KEPT - 1)
            await pipe.execute()
        if attempts < self.max_attempts:
            metrics.JOB_RETRIES.labels(self.name).inc()
            return True
        metrics.JOBS_DEAD_LETTERED.labels(self.name).inc()
        return False

    async def heartbeat(self) -> None:
        """Says this consumer is alive; call it more often than the heartbeat TTL."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.consumers_key, self.consumer)
            pipe.set(self._alive_key(self.consumer), 1, px=int(self.heartbeat_ttl_seconds * 1000))
            await pipe.execute()

    async def recover(self) -> int:
        """Requeues the jobs of every consumer whose heartbeat lapsed (a crashed or killed process);
        answers how many jobs went back to waiting."""
        requeued_total = 0
        for member in await self.redis.smembers(self.consumers_key):
            consumer = member.decode() if isinstance(member, bytes) else str(member)
            if consumer == self.consumer or await self.redis.exists(self._alive_key(consumer)):
                continue
            requeued, dead = await self._recover(
                keys=[self._processing_key(consumer), self.waiting_key, self.dead_key],
                args=[self.max_attempts, DEAD_LETTERS_KEPT],
            )
            await self.redis.srem(self.consumers_key, consumer)
            metrics.JOB_RETRIES.labels(self.name).inc(requeued)
            metrics.JOBS_DEAD_LETTERED.labels(self.name).inc(dead)
            requeued_total += requeued
        return requeued_total

    async def leave(self) -> None:
        """A clean shutdown: the next recovery anywhere takes what is left at once, without
        waiting for the heartbeat to lapse."""
        await self.redis.delete(self._alive_key(self.consumer))

    async def depth(self) -> int:
        """Jobs not yet taken: waiting, and waiting out a retry backoff."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.waiting_key)
            pipe.zcard(self.delayed_key)
            waiting, delayed = await pipe.execute()
        return int(waiting) + int(delayed)

    async def oldest_age_seconds(self) -> float:
        """How long the next job to be taken has waited since it was first enqueued (0 when none)."""
        raw = await self.redis.lindex(self.waiting_key, -1)
        if raw is None:
            return 0.0
        return max(0.0, self.clock() - Job.decode(raw).enqueued_at)

    async def dead_letters(self) -> list[Job]:
        """The jobs given up, newest first."""
        return [Job.decode(raw) for raw in await self.redis.lrange(self.dead_key, 0, -1)]

    async def dead_count(self) -> int:
        return int(await self.redis.llen(self.dead_key))

    async def dead_letter(self, job_id: str) -> Job | None:
        """The newest dead letter of the job ``job_id``, if it has one."""
        return next((job for job in await self.dead_letters() if job.id == job_id), None)

    async def replay(self, job: Job) -> bool:
        """The dead letter goes back to waiting as a new job, its attempts from zero; False when it
        was no longer there (replayed or discarded meanwhile)."""
        fresh = orjson.dumps({"id": job.id, "attempts": 0, "enqueued_at": self.clock()})
        return bool(await self._replay(keys=[self.dead_key, self.waiting_key], args=[job.raw, fresh]))

    async def discard(self, job: Job) -> bool:
        """The dead letter is dropped; False when it was no longer there."""
        return bool(await self.redis.lrem(self.dead_key, 1, job.raw))


class Handler(Protocol):
    async def handle(self, job: Job) -> None:
        """Does the job's work; raising counts a failed attempt (retried, then given up)."""

    async def give_up(self, job: Job, reason: str) -> None:
        """The job failed its last attempt: record the failure where users see it."""


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def consume(queue: Queue, handler: Handler) -> None:
    """One worker: takes jobs one at a time until cancelled."""
    while True:
        try:
            # Polling is no one's request: traced, it would be a one-span trace every second.
            with untraced():
                job = await queue.take()
        except redis.exceptions.RedisError as exc:
            # Redis's own check reports the outage; the worker waits for it to come back.
            log.debug("queue unavailable", queue=queue.name, error=type(exc).__name__)
            await asyncio.sleep(REDIS_RETRY_SECONDS)
            continue
        if job is None:
            continue
        # Each job is one trace: its database, Redis and airtable-gateway calls nest under it.
        with _tracer.start_as_current_span(
            f"{queue.name} process",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "redis",
                "messaging.operation.type": "process",
                "messaging.destination.name": queue.name,
                "messaging.message.id": job.id,
            },
        ):
            await _process(queue, handler, job)


async def _process(queue: Queue, handler: Handler, job: Job) -> None:
    try:
        await handler.handle(job)
    except asyncio.CancelledError:
        with contextlib.suppress(redis.exceptions.RedisError):
            await queue.release(job)
        raise
    except Exception as exc:
        trace.get_current_span().set_status(trace.Status(trace.StatusCode.ERROR, _reason(exc)))
        await _failed(queue, handler, job, exc)
        return
    try:
        await queue.ack(job)
    except redis.exceptions.RedisError as exc:
        # The job stays in the processing list and runs again after recovery; its handler
        # finds it finished and does nothing.
        log.warning("job not acknowledged", queue=queue.name, job=job.id, error=type(exc).__name__)


async def _failed(queue: Queue, handler: Handler, job: Job, exc: Exception) -> None:
    reason = _reason(exc)
    log.warning("job attempt failed", queue=queue.name, job=job.id, attempt=job.attempts + 1, error=reason)
    try:
        if not await queue.fail(job):
            log.warning("job given up", queue=queue.name, job=job.id, attempts=job.attempts + 1)
            await handler.give_up(job, reason)
    except Exception as follow_up:
        # Left in the processing list, the job is recovered (and counted) like a crashed one.
        log.warning("job failure not recorded", queue=queue.name, job=job.id, error=_reason(follow_up))


async def maintain(queues: Sequence[Queue], interval_seconds: float = MAINTENANCE_INTERVAL_SECONDS) -> None:
    """Keeps this process's heartbeat alive and requeues the jobs of consumers that died; the
    first round runs at start-up."""
    while True:
        for queue in queues:
            try:
                with untraced():  # housekeeping, not anyone's request
                    await queue.heartbeat()
                    requeued = await queue.recover()
                if requeued:
                    log.info("jobs of a stopped worker requeued", queue=queue.name, jobs=requeued)
            except redis.exceptions.RedisError as exc:
                log.debug("queue maintenance failed", queue=queue.name, error=type(exc).__name__)
        await asyncio.sleep(interval_seconds)
