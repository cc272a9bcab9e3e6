"""The faults a drill injects into the running local platform, how each is healed, and the traffic
that makes a fault visible where only requests can show it (errors, latency, failing sagas, jobs).

Each fault is real: a program stopped, a stand-in made to fail, slow down or refuse with 429
through its fault switch, a service made to hold memory or to burn CPU in every request through its
drill switches, a small
filesystem filled, the day's LLM spend recorded in the shared Redis store as llm-orchestrator
records it, a long import holding automation-services' only worker, more demand than Airtable's
limit allows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from airscope.errors import AirscopeError
from airscope.local import control, runner
from airscope.local.process import resident_bytes
from airscope.local.supervisor import Supervisor
from airscope.services.llm_orchestrator.budget import KEY_PREFIX as BUDGET_KEY_PREFIX
from airscope.services.llm_orchestrator.budget import KEY_TTL_SECONDS as BUDGET_KEY_TTL
from airscope.standins.airtable.seed import ABOUT, BASE_ID, LOAD_BASE_ID
from airscope.standins.airtable.seed import TABLES as SEED_TABLES


class DrillError(AirscopeError):
    """A drill cannot run now; the message names the cause and the fix."""


class Unsupported(DrillError):
    """This machine cannot make the fault at all (the drill is skipped, not failed)."""


@dataclass
class Target:
    """The running local platform a drill works on."""

    plat: runner.Platform
    sup: Supervisor

    @classmethod
    def current(cls) -> Target:
        plat = runner.platform()
        return cls(plat, runner.running_supervisor(plat))

    def url(self, program: str) -> str:
        ports = {**self.plat.service_ports, **self.plat.observability_ports}
        ports |= {f"standin-{saas.name}": port for saas, port in self.plat.standins.items()}
        return f"http://127.0.0.1:{ports[program]}"

    def standin(self, saas: str) -> str:
        if not any(s.name == saas for s in self.plat.standins):
            raise DrillError(
                f"this drill switches faults on the {saas} stand-in, which is not running: its URL variable "
                "points at the real service; unset it and `make up` again"
            )
        return self.url(f"standin-{saas}")


class Fault:
    what = ""
    # Whether the fault lasts by itself once injected (a stopped program, a switch): `airscope train`
    # injects only those, then exits; a fault made of this process's own traffic ends with it.
    persistent = True

    def prepare(self, target: Target) -> None:
        """Checks that the fault can be injected here; raises DrillError naming the fix."""

    def inject(self, target: Target) -> None:
        raise NotImplementedError

    def heal(self, target: Target) -> None:
        raise NotImplementedError

    def cleanup(self, target: Target) -> None:
        """Undoes whatever the drill left (always runs, after a failure too)."""


@dataclass
class StopProgram(Fault):
    program: str

    @property
    def what(self) -> str:
        return f"`airscope stop {self.program}`; healed by `airscope start {self.program}`"

    def prepare(self, target: Target) -> None:
        try:
            control.programs_of(target.sup, self.program)
        except Exception as exc:
            raise DrillError(str(exc)) from None

    def inject(self, target: Target) -> None:
        control.stop(self.program)

    def heal(self, target: Target) -> None:
        control.start(self.program)

    def cleanup(self, target: Target) -> None:
        if any(target.sup.pid(p) is None for p in control.programs_of(target.sup, self.program)):
            control.start(self.program)


@dataclass
class StandinFault(Fault):
    saas: str
    change: dict

    @property
    def what(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.change.items())
        return f"the {self.saas} stand-in's fault switch: {settings}"

    def prepare(self, target: Target) -> None:
        target.standin(self.saas)

    def inject(self, target: Target) -> None:
        httpx.put(
            f"{target.standin(self.saas)}/_admin/faults", json=self.change, timeout=5
        ).raise_for_status()

    def heal(self, target: Target) -> None:
        httpx.delete(f"{target.standin(self.saas)}/_admin/faults", timeout=5).raise_for_status()

    cleanup = heal


def _drill_switch(target: Target, service: str, path: str) -> None:
    """Checks that ``service`` runs with its drill switch ``path`` (it is reset there: nothing an
    earlier drill left stays on); raises DrillError naming the fix."""
    if target.sup.pid(service) is None:
        raise DrillError(f"{service} is not running: `airscope start {service}`")
    answer = httpx.delete(f"{target.url(service)}{path}", timeout=5)
    if answer.status_code == 404:
        raise DrillError(
            f"{service} has no drill switch {path}: it was started without AIRSCOPE_DRILLS=1 (or before "
            "the switch existed); `make down && make up` starts every service with it"
        )
    answer.raise_for_status()


@dataclass
class HoldMemory(Fault):
    service: str
    share_of_limit: float = 0.95  # above HighMemoryUsage's 90%, below the limit itself

    @property
    def what(self) -> str:
        return (
            f"{self.service}'s drill switch holds memory up to {self.share_of_limit:.0%} of its catalog limit"
        )

    def _pid(self, target: Target) -> int:
        pid = target.sup.pid(self.service)
        if pid is None:
            raise DrillError(f"{self.service} is not running: `airscope start {self.service}`")
        return pid

    def prepare(self, target: Target) -> None:
        _drill_switch(target, self.service, "/_drill/memory")

    def inject(self, target: Target) -> None:
        limit = target.plat.catalog.services[self.service].memory_limit_mib * 1024 * 1024
        wanted = int(limit * self.share_of_limit) - resident_bytes(self._pid(target))
        answer = httpx.put(
            f"{target.url(self.service)}/_drill/memory", json={"bytes": max(wanted, 0)}, timeout=60
        )
        answer.raise_for_status()

    def heal(self, target: Target) -> None:
        httpx.delete(f"{target.url(self.service)}/_drill/memory", timeout=10).raise_for_status()

    def cleanup(self, target: Target) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the service is gone; so is the memory it held
            self.heal(target)


@dataclass
class BurnCpu(Fault):
    """The service burns ``ms_per_request`` of CPU in every request it serves (its drill switch's
    ``burn_cpu``, synchronously on its event loop): slow by its own code, with nothing it waits on
    slow, and the one function a profile taken meanwhile must name."""

    service: str
    ms_per_request: int

    @property
    def what(self) -> str:
        return (
            f"{self.service}'s drill switch burns {self.ms_per_request} ms of CPU in every request "
            "(PUT /_drill/cpu)"
        )

    def prepare(self, target: Target) -> None:
        _drill_switch(target, self.service, "/_drill/cpu")

    def inject(self, target: Target) -> None:
        httpx.put(
            f"{target.url(self.service)}/_drill/cpu", json={"ms_per_request": self.ms_per_request}, timeout=10
        ).raise_for_status()

    def heal(self, target: Target) -> None:
        # A request burning when this arrives holds the event loop that long: the timeout allows it.
        httpx.delete(f"{target.url(self.service)}/_drill/cpu", timeout=10).raise_for_status()

    def cleanup(self, target: Target) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the service is gone; so is its switch's state
            self.heal(target)


@dataclass
class FillDisk(Fault):
    """A 64 MiB ext4 filesystem on a loop device under the local home, filled to 97%."""

    size_mib: int = 64
    fill_share: float = 0.97  # below DiskSpaceLow's critical 5% free
    mountpoint: Path = field(init=False)
    what = "a 64 MiB ext4 loop filesystem under var/drills/disk, filled to 97%"

    def _paths(self, target: Target) -> tuple[Path, Path]:
        base = target.plat.home / "drills"
        self.mountpoint = base / "disk"
        return base / "disk.img", self.mountpoint

    def prepare(self, target: Target) -> None:
        self._paths(target)
        missing = [tool for tool in ("mount", "umount", "mkfs.ext4") if shutil.which(tool) is None]
        if os.geteuid() != 0 or missing:
            raise Unsupported(
                "the disk drill mounts a loop filesystem, which needs root and mount/mkfs.ext4 "
                f"({'not root' if os.geteuid() != 0 else 'missing: ' + ', '.join(missing)}); "
                "the DiskSpaceLow rule unit test (tests/stack/rules/DiskSpaceLow.test.yml) proves the rule instead"
            )

    def inject(self, target: Target) -> None:
        image, mountpoint = self._paths(target)
        mountpoint.mkdir(parents=True, exist_ok=True)
        with image.open("wb") as file:
            file.truncate(self.size_mib * 1024 * 1024)
        for argv in (
            ["mkfs.ext4", "-q", "-F", "-m", "0", str(image)],
            ["mount", "-o", "loop", str(image), str(mountpoint)],
        ):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                raise Unsupported(
                    f"{' '.join(argv[:2])} failed ({done.stderr.strip()}): this machine cannot mount a loop "
                    "filesystem; the DiskSpaceLow rule unit test proves the rule instead"
                )
        usage = shutil.disk_usage(mountpoint)
        fill = int(usage.total * self.fill_share) - (usage.total - usage.free)
        subprocess.run(["fallocate", "-l", str(fill), str(mountpoint / "fill")], check=True)

    def heal(self, target: Target) -> None:
        (self.mountpoint / "fill").unlink(missing_ok=True)

    def cleanup(self, target: Target) -> None:
        image, mountpoint = self._paths(target)
        if os.path.ismount(mountpoint):
            subprocess.run(["umount", str(mountpoint)], capture_output=True)
        image.unlink(missing_ok=True)


class BudgetError(DrillError):
    """llm-orchestrator's budget cannot be read or written here."""


# Where a drill keeps what it added to today's LLM spend ("<key> <amount>"), so that healing takes
# back exactly that, once, whatever chats spent meanwhile and however often healing is asked for.
BUDGET_MARKER = "airscope:drill:llm-budget"
_SPEND = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], KEYS[1] .. ' ' .. ARGV[1])
return 1
"""
_TAKE_BACK = """
local kept = redis.call('GET', KEYS[1])
if not kept then return 0 end
local space = string.find(kept, ' ', 1, true)
redis.call('INCRBYFLOAT', string.sub(kept, 1, space - 1), '-' .. string.sub(kept, space + 1))
redis.call('DEL', KEYS[1])
return 1
"""


def metric_value(exposition: str, name: str) -> float | None:
    """The value of the unlabelled gauge ``name`` in a /metrics text, None when it is not there."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    return None


@dataclass
class SpendBudget(Fault):
    """Today's LLM spend recorded up to the daily budget in the Redis store every llm-orchestrator
    replica shares (its budget module's key and TTL, the same INCRBYFLOAT), so every replica refuses
    chats with 429 budget_exhausted; healing takes back what was added."""

    service: str = "llm-orchestrator"
    what = "a day's LLM budget of spend recorded in the shared Redis store (llm:budget:spent:<today>)"

    def _redis(self, target: Target) -> redis.Redis:
        store = target.plat.infrastructure.get("redis")
        if store is None:
            raise BudgetError("the platform runs no Redis: llm-orchestrator keeps its budget there")
        return redis.Redis.from_url(store.url)

    def limit(self, target: Target) -> float:
        """The budget llm-orchestrator runs with, as it exports it (LLM_DAILY_BUDGET_USD)."""
        try:
            answer = httpx.get(f"{target.url(self.service)}/metrics", timeout=5)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise BudgetError(
                f"{self.service} does not answer /metrics ({exc}): `airscope start {self.service}`"
            ) from None
        value = metric_value(answer.text, "llm_budget_limit_usd")
        if value is None:
            raise BudgetError(f"{self.service} exports no llm_budget_limit_usd")
        return value

    def prepare(self, target: Target) -> None:
        self.limit(target)
        with self._redis(target) as client:
            client.ping()

    def inject(self, target: Target) -> None:
        key = BUDGET_KEY_PREFIX + datetime.now(UTC).date().isoformat()
        # The whole budget on top of today's spend: at or over the limit whatever was spent before.
        amount = max(self.limit(target), 0.01)
        with self._redis(target) as client:
            client.eval(_SPEND, 2, key, BUDGET_MARKER, repr(amount), BUDGET_KEY_TTL)

    def heal(self, target: Target) -> None:
        with self._redis(target) as client:
            client.eval(_TAKE_BACK, 1, BUDGET_MARKER)

    cleanup = heal


# The queue-backlog drill's long import: batches of Airtable's 10 records, each slowed by the
# Airtable stand-in to IMPORT_LATENCY_MS (under airtable-gateway's 10 s timeout), hold the only
# import worker for IMPORT_ROWS / 10 * 7 s = 210 s: longer than QueueBacklog's 120 s threshold, its
# local `for` and the drill's bound, so the next file waits behind it until the drill heals.
IMPORT_ROWS = 300
IMPORT_LATENCY_MS = 7000


def about_csv(tag: str, rows: int) -> bytes:
    """A CSV of ``rows`` rows for the load base's About table (its columns), named after ``tag``."""
    lines = ["Name,Notes", *(f"drill {tag} {n},airscope drill" for n in range(rows))]
    return ("\n".join(lines) + "\n").encode()


def upload(client: httpx.Client, name: str, content: bytes) -> httpx.Response:
    """A file uploaded through the gateway for import into the load base's About table."""
    return client.post(
        "/api/automation/files",
        files={"file": (name, content, "text/csv")},
        data={"base_id": LOAD_BASE_ID, "table": ABOUT.name},
    )


@dataclass
class LongImport(Fault):
    """Airtable slowed while a long file is imported: it holds automation-services' import worker
    (AUTOMATION_WORKERS, 1 locally) and a second file waits behind it. Healing lifts the slowness;
    the long import then finishes within seconds and the queue drains."""

    what = (
        f"the airtable stand-in's fault switch: extra_latency_ms={IMPORT_LATENCY_MS}, then a file of "
        f"{IMPORT_ROWS} rows and one of 1 row uploaded through the gateway"
    )

    def __post_init__(self) -> None:
        self.slow = StandinFault("airtable", {"extra_latency_ms": IMPORT_LATENCY_MS})

    def prepare(self, target: Target) -> None:
        self.slow.prepare(target)

    def inject(self, target: Target) -> None:
        self.slow.inject(target)
        tag = secrets.token_hex(3)
        with httpx.Client(
            base_url=target.url("api-gateway"), headers={"X-API-Key": target.plat.api_key}, timeout=30
        ) as client:
            for name, rows in ((f"drill-{tag}-long.csv", IMPORT_ROWS), (f"drill-{tag}-next.csv", 1)):
                answer = upload(client, name, about_csv(tag, rows))
                if answer.status_code != 202:
                    raise DrillError(
                        f"the upload of {name} was answered {answer.status_code}: {answer.text[:200]}"
                    )

    def heal(self, target: Target) -> None:
        self.slow.heal(target)

    cleanup = heal


@dataclass
class Burst(Fault):
    """More demand than the platform is built for, as the fault itself: a client's steady requests
    for as long as the fault lasts (healing stops them). Not persistent: it ends with this process."""

    kind: str
    rps: float
    in_flight: int
    persistent = False
    traffic: Traffic | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def what(self) -> str:
        return (
            f"{self.rps:g} {self.kind} requests a second through the gateway (up to {self.in_flight} at once)"
        )

    def inject(self, target: Target) -> None:
        self.traffic = Traffic(target, self.rps, max_in_flight=self.in_flight, kind=self.kind)
        self.traffic.__enter__()

    def heal(self, target: Target) -> None:
        if self.traffic is not None:
            self.traffic.__exit__(None, None, None)

    cleanup = heal


def chat_message(n: int) -> str:
    """A chat the LLM (the stand-in's rules, or a real model) answers with list_tables then
    search_records of a text no earlier chat searched, so no cache answers that last call."""
    return f'Find customers named "drill {n}" in base {BASE_ID}'


def chat_status(answer: httpx.Response) -> int | str:
    """The answer's status; ``CHAT_TOOL_FAILED`` for a 200 whose last tool call failed, and the
    error code beside the status of a chat not answered ("503 redis_unavailable")."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return answer.status_code
    if answer.status_code != 200:
        error = body.get("error")
        return f"{answer.status_code} {error}" if isinstance(error, str) else answer.status_code
    calls = body.get("tool_calls") or []
    if calls and isinstance(calls[-1], dict) and calls[-1].get("ok") is False:
        return CHAT_TOOL_FAILED
    return answer.status_code


# At most one page of Airtable's (100 records) per read: on a table grown by earlier loads, larger
# reads take several Airtable calls each and queue behind airtable-gateway's 5 calls/s long after a
# fault heals. 100 distinct reads at 2/s come round every 50 s, after the cache's 30 s TTL.
AIRTABLE_PAGE = 100


# The traffic kinds a drill can send: Airtable reads of one table, or of every table of the demo base
# (more distinct reads than the cache keeps in 30 s at a few a second), chats whose tools read
# Airtable, onboarding sagas, or one-row file uploads.
RECORDS, READS, CHATS, SAGAS, UPLOADS = "records", "reads", "chats", "sagas", "uploads"
TRAFFIC_KINDS = (RECORDS, READS, CHATS, SAGAS, UPLOADS)
# The key of a chat answered 200 whose answer reports a failed tool (its last tool call failed).
CHAT_TOOL_FAILED = "200 tool failed"


class Traffic:
    """Steady requests through the api-gateway for the whole drill, paced whatever their latency (a
    slowed dependency must not slow the traffic that shows it).

    ``records``: list-records reads of the demo base, each with its own maxRecords so that
    airtable-gateway's cache cannot answer them and every one reaches Airtable (the stand-in).
    ``reads``: the same over every table of the demo base in turn (``len(tables) * 100`` distinct
    reads: at 8 a second the same one comes back after the cache's 30 s).
    ``sagas``: onboarding sagas in the load base, each for a workspace of its own.
    ``uploads``: one-row CSV files for import into the load base's About table.
    ``chats``: chat messages asking to search the demo base's Customers for a text of their own, so
    that the model's last tool call (search_records) reaches Airtable every time; a chat answered
    200 whose last tool call failed is counted apart (``CHAT_TOOL_FAILED``)."""

    def __init__(
        self, target: Target, rps: float = 2.0, max_in_flight: int = 16, kind: str = RECORDS
    ) -> None:
        if kind not in TRAFFIC_KINDS:
            raise ValueError(f"no drill traffic of kind {kind!r}")
        self.kind = kind
        self.tag = secrets.token_hex(3)  # this traffic's names: a saga's workspace, a file
        self.gateway = target.url("api-gateway")
        self.headers = {"X-API-Key": target.plat.api_key}
        self.interval = 1 / rps
        self.statuses: Counter[int | str] = Counter()
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="drill traffic")
        self._pacer = threading.Thread(target=self._run, name="drill traffic pacer", daemon=True)
        self._path = f"/api/airtable/bases/{BASE_ID}/tables/{SEED_TABLES[0].name}/records"
        self._client = httpx.Client(base_url=self.gateway, headers=self.headers, timeout=30)

    def __enter__(self) -> Traffic:
        self._pacer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._pacer.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _send(self, n: int) -> None:
        try:
            if self.kind == CHATS:
                answer = self._client.post("/api/chat", json={"message": chat_message(n)})
                self.statuses[chat_status(answer)] += 1
            elif self.kind == SAGAS:
                body = {"workspace_name": f"drill-{self.tag}-{n}", "base_id": LOAD_BASE_ID}
                self.statuses[self._client.post("/api/sagas/onboarding", json=body).status_code] += 1
            elif self.kind == UPLOADS:
                answer = upload(self._client, f"drill-{self.tag}-{n}.csv", about_csv(f"{self.tag}-{n}", 1))
                self.statuses[answer.status_code] += 1
            elif self.kind == READS:
                table = SEED_TABLES[n % len(SEED_TABLES)].name
                path = f"/api/airtable/bases/{BASE_ID}/tables/{table}/records"
                answer = self._client.get(
                    path, params={"maxRecords": n // len(SEED_TABLES) % AIRTABLE_PAGE + 1}
                )
                self.statuses[answer.status_code] += 1
            else:
                answer = self._client.get(self._path, params={"maxRecords": n % AIRTABLE_PAGE + 1})
                self.statuses[answer.status_code] += 1
        except httpx.HTTPError as exc:
            self.statuses[type(exc).__name__] += 1
        finally:
            self._slots.release()

    def _run(self) -> None:
        sent = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self._slots.acquire(blocking=False):
                sent += 1
                self._pool.submit(self._send, sent)
            else:
                self.statuses["skipped"] += 1  # every slot waits on a slow answer
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
