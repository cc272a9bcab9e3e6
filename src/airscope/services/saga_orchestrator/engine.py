"""The saga engine: runs a saga's steps forward and, when one fails, undoes the done ones backwards.

A saga definition is an ordered list of steps, each an ``action`` (does the work and answers a JSON
result) and a ``compensation`` (undoes it, given that result). The engine knows nothing about what
the steps do; it knows how they fail:

- Transient failures (timeouts, connection errors, 5xx and 429 answers) are retried with jittered
  exponential back-off, at most ``step_max_attempts`` attempts; anything else (a 4xx, a bug) is
  permanent at once. A step that gives up fails the saga forward: the done steps are compensated
  in reverse order (N-1 .. 1) and the saga ends ``compensated``.
- A compensation is retried the same way (``compensation_max_attempts``). One that gives up marks
  its step ``compensation_failed``, is logged at error and counted (alert on it), and the saga ends
  ``failed``: a person must clean up. The other compensations still run, since each undoes its own
  resource and skipping them would only leave more behind.

Every change of state is written to the store before the next action, so a process that dies at
any point leaves a saga that another process resumes (``resume``): a step left ``running`` runs
again with the same idempotency key (``<saga id>:<step>``), which the services it calls honour, so
the repeat answers what the lost attempt did instead of doing it twice; a compensating saga
compensates its remaining done steps (compensations are idempotent too).

What it cannot know: a step that gave up after transient failures (say, three timeouts) may have
taken effect without an answer; it is not compensated, since there is no result to undo it with.
The receivers' idempotency keys make that rare (a timed-out attempt is retried, and the retry
learns the outcome); what remains shows as the step's error in the saga.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from opentelemetry import trace

from airscope.services.saga_orchestrator import metrics
from airscope.services.saga_orchestrator.store import (
    COMPENSATED,
    COMPLETED,
    DONE,
    FAILED,
    RUNNING,
    LeaseLost,
    SagaState,
    Store,
)
from airscope.telemetry import get_logger

log = get_logger(__name__)
_tracer = trace.get_tracer(__name__)

BACKOFF_BASE_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0
MAX_BODY_IN_ERROR = 300


@dataclass(frozen=True)
class StepContext:
    """What a step's action or compensation gets: the saga, its input and the earlier steps' results."""

    saga_id: str
    step: str
    input: Mapping[str, Any]
    results: Mapping[str, dict[str, Any]]

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this step of this saga, across restarts."""
        return f"{self.saga_id}:{self.step}"


Action = Callable[[StepContext], Awaitable[dict[str, Any]]]
Compensation = Callable[[StepContext, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    name: str
    action: Action
    compensation: Compensation


@dataclass(frozen=True)
class SagaDefinition:
    name: str
    steps: tuple[Step, ...]

    @property
    def step_names(self) -> tuple[str, ...]:
        return tuple(step.name for step in self.steps)


def is_transient(exc: BaseException) -> bool:
    """Whether trying again may succeed: timeouts, unreachable services, 5xx and 429 answers."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException | httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status >= 500 or status == 429
    return False


def retry_after(exc: BaseException) -> float:
    """The seconds a 429 or 503 answer's ``Retry-After`` asks for (its delay form), at most
    ``BACKOFF_MAX_SECONDS``; 0 when it asks for nothing."""
    if not isinstance(exc, httpx.HTTPStatusError) or exc.response.status_code not in (429, 503):
        return 0.0
    try:
        seconds = float(exc.response.headers.get("retry-after", ""))
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), BACKOFF_MAX_SECONDS)


def describe(exc: BaseException) -> str:
    """A short account of a failure for the saga's record (no headers: they may carry secrets)."""
    if isinstance(exc, httpx.HTTPStatusError):
        request, response = exc.request, exc.response
        body = response.text[:MAX_BODY_IN_ERROR]
        return f"{request.method} {request.url.path} answered {response.status_code}: {body}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass
class Engine:
    store: Store
    definitions: Mapping[str, SagaDefinition]
    step_timeout_seconds: float
    step_max_attempts: int
    compensation_max_attempts: int
    backoff_base_seconds: float = BACKOFF_BASE_SECONDS
    _tasks: dict[str, asyncio.Task] = field(default_factory=dict)

    # -- starting, waiting, resuming ------------------------------------------------------------

    async def start(self, saga: str, saga_input: dict[str, Any]) -> SagaState:
        """Writes a new saga, then runs it in the background; answers it as written."""
        definition = self.definitions[saga]
        state = await self.store.create(saga, saga_input, list(definition.step_names))
        self._launch(state.id)
        return state

    async def wait(self, saga_id: str, at_most_seconds: float) -> None:
        """Returns when this process's run of the saga ended, or after ``at_most_seconds``."""
        task = self._tasks.get(saga_id)
        if task is not None:
            await asyncio.wait({task}, timeout=at_most_seconds)

    async def resume_abandoned(self) -> list[str]:
        """Claims the unfinished sagas whose process stopped renewing them, and runs them on."""
        claimed = await self.store.claim_abandoned()
        for saga_id in claimed:
            if saga_id not in self._tasks:
                log.info("resuming saga", saga_id=saga_id)
                # Its own trace: not the timer's context, which makes no spans.
                self._launch(saga_id, self._resume(saga_id), contextvars.Context())
        return claimed

    async def compensate_again(self, saga_id: str) -> bool:
        """An operator's retry of a failed saga: its failed compensations run again in the
        background (``wait`` for them). False when the saga is not failed."""
        if not await self.store.reopen(saga_id):
            return False
        log.info("failed saga reopened by an operator; compensating again", saga_id=saga_id)
        self._launch(saga_id)
        return True

    def running(self) -> list[str]:
        return list(self._tasks)

    async def close(self) -> None:
        """Stops the runs of this process (their state is written; another process resumes them)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _launch(
        self,
        saga_id: str,
        run: Coroutine[Any, Any, None] | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        task = asyncio.create_task(run or self.run(saga_id), name=f"saga {saga_id}", context=context)
        self._tasks[saga_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(saga_id, None))

    # -- driving one saga -----------------------------------------------------------------------

    async def _resume(self, saga_id: str) -> None:
        with _tracer.start_as_current_span("saga resume", attributes={"saga.id": saga_id}):
            await self.run(saga_id)

    async def run(self, saga_id: str) -> None:
        """Drives the saga from its written state to its end."""
        try:
            state = await self.store.get(saga_id)
            if state is None or state.finished:
                return
            definition = self.definitions[state.saga]
            with metrics.SAGA_IN_PROGRESS.labels(definition.name).track_inprogress():
                await self._drive(definition, state)
        except LeaseLost:
            log.warning("saga taken over by another process; this one stops driving it", saga_id=saga_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Its state is as last written; its lease lapses and a process resumes it from there.
            log.warning("saga paused: its state cannot be written", saga_id=saga_id, error=repr(exc))

    async def _drive(self, definition: SagaDefinition, state: SagaState) -> None:
        results = {step.name: step.result for step in state.steps if step.status == DONE and step.result}
        if state.status == RUNNING:
            for step in definition.steps:
                if state.step(step.name).status == DONE:
                    continue
                result = await self._forward(definition, state, step, results)
                if result is None:
                    break
                results[step.name] = result
            else:
                await self._finish(definition, state, COMPLETED)
                return
        undone = [await self._compensate(state, step, results) for step in reversed(definition.steps)]
        await self._finish(definition, state, COMPENSATED if all(undone) else FAILED)

    async def _forward(
        self, definition: SagaDefinition, state: SagaState, step: Step, results: dict[str, dict]
    ) -> dict[str, Any] | None:
        """Runs the step to a result (written as done), or to failure (None; the saga compensating)."""
        context = StepContext(state.id, step.name, state.input, dict(results))
        started = time.perf_counter()
        try:
            for attempt in range(1, self.step_max_attempts + 1):
                await self.store.step_started(state.id, step.name)
                try:
                    async with asyncio.timeout(self.step_timeout_seconds):
                        result = await step.action(context)
                except Exception as exc:  # every failure is classified and written down
                    error = describe(exc)
                    if is_transient(exc) and attempt < self.step_max_attempts:
                        await self.store.step_retrying(state.id, step.name, error)
                        delay = self._backoff(attempt, exc)
                        log.info(
                            "retrying saga step",
                            saga_id=state.id,
                            step=step.name,
                            attempt=attempt,
                            delay_s=round(delay, 3),
                            error=error,
                        )
                        await asyncio.sleep(delay)
                        continue
                    await self.store.step_failed(state.id, step.name, error)
                    log.warning(
                        "saga step failed; compensating",
                        saga_id=state.id,
                        saga=definition.name,
                        step=step.name,
                        attempts=attempt,
                        error=error,
                    )
                    return None
                await self.store.step_done(state.id, step.name, result)
                return result
            raise AssertionError("unreachable: the last attempt returns")
        finally:
            metrics.SAGA_STEP_DURATION.labels(definition.name, step.name).observe(
                time.perf_counter() - started
            )

    async def _compensate(self, state: SagaState, step: Step, results: dict[str, dict]) -> bool:
        """Undoes a done step (True), or gives up on it (False, written as compensation_failed).
        Steps that are not done have nothing to undo (True)."""
        result = results.get(step.name)
        if result is None:
            return True
        context = StepContext(state.id, step.name, state.input, dict(results))
        for attempt in range(1, self.compensation_max_attempts + 1):
            await self.store.compensation_started(state.id, step.name)
            try:
                async with asyncio.timeout(self.step_timeout_seconds):
                    await step.compensation(context, result)
            except Exception as exc:  # every failure is classified and written down
                error = describe(exc)
                if is_transient(exc) and attempt < self.compensation_max_attempts:
                    await self.store.compensation_retrying(state.id, step.name, error)
                    await asyncio.sleep(self._backoff(attempt, exc))
                    continue
                await self.store.compensation_failed(state.id, step.name, error)
                metrics.SAGA_COMPENSATIONS.labels(step.name, "failed").inc()
                log.error(
                    "saga compensation failed; clean up by hand",
                    saga_id=state.id,
                    saga=state.saga,
                    step=step.name,
                    attempts=attempt,
                    result=result,
                    error=error,
                )
                return False
            await self.store.step_compensated(state.id, step.name)
            metrics.SAGA_COMPENSATIONS.labels(step.name, "ok").inc()
            return True
        raise AssertionError("unreachable: the last attempt returns")

    async def _finish(self, definition: SagaDefinition, state: SagaState, status: str) -> None:
        seconds = await self.store.finish(state.id, status)
        if state.reopened_at is not None:
            # Its run was counted when it first ended failed; this end is an operator's clean-up.
            metrics.SAGA_CLEANUPS.labels(definition.name, status).inc()
        else:
            metrics.SAGA_RUNS.labels(definition.name, status).inc()
            metrics.SAGA_DURATION.labels(definition.name).observe(seconds)
        log.log(
            logging.ERROR if status == FAILED else logging.INFO,
            "saga ended",
            saga_id=state.id,
            saga=definition.name,
            status=status,
            duration_s=round(seconds, 3),
        )

    def _backoff(self, attempt: int, exc: BaseException) -> float:
        # "Equal jitter": at least half the exponential step, so retries never bunch at zero. A service
        # that shed the call (429/503) says when to come back: never sooner, so that sagas retrying
        # together do not keep an overloaded service overloaded.
        step = min(BACKOFF_MAX_SECONDS, self.backoff_base_seconds * 2 ** (attempt - 1))
        return max(step / 2 + random.uniform(0, step / 2), retry_after(exc))


def new_owner_id() -> str:
    """This process's identity as the owner of the sagas it drives."""
    return uuid.uuid4().hex
