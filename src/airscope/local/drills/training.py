"""``airscope train``: the drills' faults, injected blind for a trainee to find.

``train start`` picks one fault (or, for a game day, several that touch different things) at random,
injects it and says only that something is wrong; ``train answer CAUSE`` tells the trainee whether
CAUSE is what was injected, with a hint on a wrong guess; ``train end`` heals everything and says
what it was. The faults and scenarios are the drills' own.

Every fault persists by itself (a stopped program, the stand-in's fault switch, memory held by the
drill switch, a filled filesystem), so nothing has to stay running for it but the traffic that
errors and latency need: ``train start`` adds it to supervisord as the program ``training-traffic``
(the drills' own traffic), which ``train end`` removes and ``airscope down`` stops with the rest.

What was injected is kept in ``<home>/training/session.json`` (mode 0600) and is never printed
before ``train end``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import sys
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from airscope import catalog
from airscope.errors import AirscopeError
from airscope.local import paths
from airscope.local.drills.faults import (
    CHATS,
    READS,
    RECORDS,
    SAGAS,
    UPLOADS,
    BurnCpu,
    Burst,
    DrillError,
    FillDisk,
    HoldMemory,
    LongImport,
    SpendBudget,
    StandinFault,
    StopProgram,
    Target,
    Traffic,
    Unsupported,
)
from airscope.local.drills.scenarios import (
    CHAT_TRAFFIC_RPS,
    DEFAULT_SERVICE,
    SAGA_TRAFFIC_RPS,
    UPLOAD_TRAFFIC_RPS,
    Scenario,
    scenarios,
)
from airscope.local.drills.watch import active_alerts, describe
from airscope.local.supervisor import Program
from airscope.promapi import PromAPIError

TRAFFIC_PROGRAM = "training-traffic"
GUIDE = "docs/guide.md"

STORE_HINT = (
    "Is everything up? Not only the services: `airscope alerts` names the exporter that cannot reach its "
    f'store, and the store\'s own log says why (`airscope logs`). ({GUIDE}, "Is everything up?")'
)
# Where to look after a wrong answer, by the scenario not yet found: the signal, not the cause.
HINTS = {
    "service-down": "Is everything up? `airscope status`: which instance has neither a passing /health nor "
    f'up=1? ({GUIDE}, "Is everything up?")',
    "redis-down": STORE_HINT,
    "postgres-down": STORE_HINT,
    "error-burst": "What is failing? The error % per service in `airscope status`, then `airscope traces "
    "--errors`: follow a failing request down to the deepest span in error, and what it called. "
    f'({GUIDE}, "What is failing?", "Which request?")',
    "chat-failures": "Every request succeeds, yet the answers are useless: `airscope alerts`, then the chats' "
    "outcomes (Prometheus: llm_chats_total by outcome) and a chat's trace (`airscope traces -s mcp-server "
    f'--errors`): which tool call failed, and on what? ({GUIDE}, "What is failing?", "Which request?")',
    "latency": "What is slow? p95 per service in `airscope status`, then `airscope traces --min-duration 2s`: "
    f'which span of a slow request holds the time, and what does it wait on? ({GUIDE}, "What is slow?")',
    "cpu-hog": "What is slow, and is it waiting or working? p95 per service in `airscope status`, a slow "
    "request's trace (`airscope traces --min-duration 1s`): when no child span holds the time, the service "
    "spends it itself; `airscope profile SERVICE` names the function on its CPU. "
    f'({GUIDE}, "What is slow?", "Which function?")',
    "memory": "Not every fault is in the requests: `airscope alerts`, then each service's resident memory "
    'against its limit (Prometheus: process_resident_memory_bytes{job="services"}; in Grafana, the '
    f'Process resources row of airscope / Service). ({GUIDE}, "Why?")',
    "target-down": "Not every fault is in the platform: is everything Prometheus scrapes up, the exporters "
    "too? `airscope alerts`, then `up` by job (Prometheus: up == 0). "
    f'({GUIDE}, "Is everything up?")',
    "sagas-failing": "Requests succeed, onboardings do not: `airscope alerts`, then how sagas end (Prometheus: "
    "saga_runs_total by outcome) and a saga's trace (`airscope traces -s saga-orchestrator --errors`): "
    f'which step fails, on what? ({GUIDE}, "What is failing?")',
    "jobs-dead-lettered": "Uploads are accepted, imports fail later: `airscope alerts`, then automation-services' "
    "log (`airscope logs -s automation-services --level warning`): why do its job attempts fail? "
    f'({GUIDE}, "What is failing?")',
    "queue-backlog": "Files wait to be imported: `airscope alerts`, then the queue's oldest job "
    "(automation_queue_oldest_job_age_seconds) and what the worker waits on (`airscope traces -s "
    f'automation-services --min-duration 5s`). ({GUIDE}, "What is slow?")',
    "llm-budget": "Chats are refused with 429, not failing: `airscope alerts`, then a chat of your own and "
    f'what it answers; llm_budget_spent_usd against llm_budget_limit_usd. ({GUIDE}, "What is failing?")',
    "mcp-tool-errors": "The chats' tools fail: `airscope alerts`, then mcp_tool_calls_total by tool and outcome "
    f'and a failing tool call\'s trace (`airscope traces -s mcp-server --errors`). ({GUIDE}, "Which request?")',
    "airtable-429": "Airtable refuses some requests: `airscope alerts`, then airtable-gateway's retries by "
    "reason (airtable_retries_total) and its log (`airscope logs -s airtable-gateway --grep rate_limited`). "
    f'({GUIDE}, "What is failing?")',
    "airtable-saturated": "Requests queue before reaching Airtable: `airscope alerts`, then the wait for "
    "airtable-gateway's limiter (airtable_rate_limit_wait_seconds) and who sends so many reads. "
    f'({GUIDE}, "What is slow?")',
    "disk": "Everything answers: look below the services, at the machine the stores write to: "
    "`airscope alerts`, then the free share of each filesystem (Prometheus: node_filesystem_avail_bytes / "
    f'node_filesystem_size_bytes). ({GUIDE}, "Why?")',
}


class TrainingError(AirscopeError):
    """A training command cannot do what it was asked; the message names the fix."""


@dataclass(frozen=True)
class Pick:
    """One fault of a training session: a drill scenario, and the service it targets."""

    scenario: str
    service: str = DEFAULT_SERVICE

    def build(self) -> Scenario:
        return scenarios(self.service)[self.scenario]

    @property
    def cause(self) -> str:
        """The answer that names this fault, one of ``causes()``."""
        match self.scenario:
            case "service-down":
                return f"{self.service} down"
            case "memory":
                return f"memory leak in {self.service}"
            case "cpu-hog":
                return f"cpu hog in {self.build().fault.service}"
        return FIXED_CAUSES[self.scenario]

    @property
    def touches(self) -> str:
        """What the fault acts on; two faults of one session never act on the same thing (healing one
        would heal both, or a stopped service could not hold memory)."""
        match self.build().fault:
            case StopProgram(program=program):
                return program
            case StandinFault(saas=saas):
                return f"standin-{saas}"
            case HoldMemory(service=service) | BurnCpu(service=service):
                return service
            case FillDisk():
                return "disk"
            case LongImport():
                return "standin-airtable"
            case SpendBudget():
                return "llm-budget"
            case Burst():
                return "traffic"
        raise TypeError(f"no target known for the fault of {self.scenario}")


FIXED_CAUSES = {
    "redis-down": "redis down",
    "postgres-down": "postgres down",
    "error-burst": "airtable errors",
    "chat-failures": "airtable errors",  # the same fault, found from the chats' answers
    "latency": "airtable slow",
    "disk": "disk full",
    "target-down": "node-exporter down",
    "sagas-failing": "airtable errors",
    "jobs-dead-lettered": "airtable errors",
    "queue-backlog": "airtable slow",  # found from the imports waiting behind a slowed one
    "llm-budget": "llm budget spent",
    "mcp-tool-errors": "airtable errors",
    "airtable-429": "airtable rate limited",
    "airtable-saturated": "too many airtable reads",
}


def services() -> list[str]:
    """The services in the tree: the ones a training fault can stop."""
    return [service.name for service in catalog.load().start_order() if service.exists()]


def causes(names: list[str]) -> list[str]:
    """The closed list of answers: every service down, each fixed cause, a leak or a CPU hog in any
    service (cpu-hog burns one service, but naming which is part of the answer)."""
    return [
        *(f"{name} down" for name in names),
        *dict.fromkeys(FIXED_CAUSES.values()),  # two drills may make one cause
        *(f"memory leak in {name}" for name in names),
        *(f"cpu hog in {name}" for name in names),
    ]


def choose(
    rng: random.Random, pool: list[str], names: list[str], count: int, service: str | None = None
) -> list[Pick]:
    """``count`` scenarios of ``pool`` in random order, none acting on what another acts on. The
    service-down fault stops ``service``, else a random one of ``names``; memory fills ``service``,
    else the drills' default."""
    candidates = list(pool)
    rng.shuffle(candidates)
    picked: list[Pick] = []
    for scenario in candidates:
        if len(picked) == count:
            break
        if scenario == "service-down":
            pick = Pick(scenario, service or rng.choice(names))
        else:
            pick = Pick(scenario, service or DEFAULT_SERVICE)
        if pick.touches not in {other.touches for other in picked}:
            picked.append(pick)
    if len(picked) < count:
        raise TrainingError(
            f"only {len(picked)} of the faults {', '.join(pool)} can be in at once, not {count}: "
            "name more scenarios or ask for fewer faults"
        )
    return picked


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Session:
    seed: int
    picks: list[Pick]
    started_at: str = field(default_factory=now)
    answers: list[dict] = field(default_factory=list)  # {"at", "cause", "right"}, in order

    @staticmethod
    def path() -> Path:
        return paths.home() / "training" / "session.json"

    @classmethod
    def load(cls) -> Session:
        try:
            kept = json.loads(cls.path().read_text())
        except FileNotFoundError:
            raise TrainingError("no training session is running: `airscope train start` begins one") from None
        return cls(
            kept["seed"], [Pick(**pick) for pick in kept["picks"]], kept["started_at"], kept["answers"]
        )

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(asdict(self), file, indent=2)
        path.chmod(0o600)  # O_CREAT's mode applies only to a new file

    @property
    def found(self) -> list[str]:
        return [answer["cause"] for answer in self.answers if answer["right"]]

    def missing(self) -> list[Pick]:
        return [pick for pick in self.picks if pick.cause not in self.found]


@dataclass(frozen=True)
class Verdict:
    right: bool
    text: str


def normalize(words: tuple[str, ...] | list[str], known: list[str]) -> str:
    """The cause the words name (any case, any spacing), or TrainingError listing the known ones."""
    cause = " ".join(" ".join(words).lower().split())
    if cause not in known:
        raise TrainingError(f"{cause!r} is not a known cause; `airscope train causes` lists them")
    return cause


def answer(session: Session, cause: str) -> Verdict:
    """Records the answer and judges it against what was injected."""
    if cause in session.found:
        return Verdict(True, f"right, and already found: {cause}")
    right = cause in {pick.cause for pick in session.picks}
    session.answers.append({"at": now(), "cause": cause, "right": right})
    missing = session.missing()
    if not right and not missing:
        return Verdict(False, f"wrong: it is not {cause}, and every fault is found already.")
    if right:
        if not missing:
            return Verdict(
                True, f"right: {cause}. That was every fault; `airscope train end` heals and scores."
            )
        return Verdict(True, f"right: {cause}. {len(missing)} more fault(s) to find.")
    return Verdict(False, f"wrong: it is not {cause}.\nhint: {HINTS[missing[0].scenario]}")


def _usable(target: Target, pool: list[str], named: bool, service: str | None) -> list[str]:
    """The scenarios of ``pool`` this platform can make; a named one that it cannot is an error."""
    usable = []
    for name in pool:
        fault = Pick(name, service or DEFAULT_SERVICE).build().fault
        if not fault.persistent:  # its traffic is the fault, and would end with `train start`
            if named:
                raise TrainingError(
                    f"{name} cannot be injected blind: its fault lasts only while a drill runs it"
                )
            continue
        try:
            fault.prepare(target)
        except (DrillError, httpx.HTTPError) as exc:
            if named:
                raise TrainingError(f"{name} cannot be injected here: {exc}") from None
            if not isinstance(exc, Unsupported):
                print(f"left out {name}: {exc}", file=sys.stderr)
            continue
        usable.append(name)
    return usable


def start(
    target: Target, pool: list[str], named: bool, count: int, seed: int | None, service: str | None
) -> Session:
    """Injects ``count`` faults of ``pool`` (drawn from ``seed``, a secret random one by default)."""
    if Session.path().exists():
        raise TrainingError("a training session is running: `airscope train end` first")
    seed = secrets.randbelow(2**32) if seed is None else seed
    picks = choose(random.Random(seed), _usable(target, pool, named, service), services(), count, service)
    for pick in picks:
        pick.build().fault.prepare(target)
    session = Session(seed, picks)
    session.save()  # before injecting: `train end` heals whatever a failed start left in
    try:
        kinds = {RECORDS, *(pick.build().traffic_kind for pick in picks if pick.build().traffic)}
        _start_traffic(target, max(1, *(pick.build().traffic for pick in picks)), sorted(kinds))
        for pick in picks:
            pick.build().fault.inject(target)
    except BaseException:  # Ctrl-C included: leave nothing injected behind a failed start
        heal(target, session)
        raise
    return session


def _start_traffic(target: Target, in_flight: int, kinds: list[str]) -> None:
    """The drills' traffic (of each kind) as a supervisord program, so that it outlives this command."""
    argv = (sys.executable, "-m", "airscope.local.drills.training", str(in_flight), *kinds)
    target.sup.define(Program(TRAFFIC_PROGRAM, argv, env=target.plat.shared_env, cwd=target.plat.home))
    target.sup.start(TRAFFIC_PROGRAM)


def heal(target: Target, session: Session) -> list[str]:
    """Stops the traffic and undoes every fault (cleanup is the drills' undo-whatever-is-left, safe
    when the trainee fixed it already); ends the session once all healed. Returns what failed."""
    failed = []
    # Whatever one undo raises, the others still run; each failure is reported.
    try:
        target.sup.remove(TRAFFIC_PROGRAM)
    except Exception as exc:
        failed.append(f"{TRAFFIC_PROGRAM}: {exc}")
    for pick in reversed(session.picks):
        try:
            pick.build().fault.cleanup(target)
        except Exception as exc:
            failed.append(f"{pick.cause}: {exc}")
    if not failed:
        Session.path().unlink(missing_ok=True)
    return failed


def _since(started_at: str, at: str) -> str:
    seconds = int((datetime.fromisoformat(at) - datetime.fromisoformat(started_at)).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s"


def score(session: Session, ended_at: str) -> str:
    lines = [f"training over after {_since(session.started_at, ended_at)} (seed {session.seed}); it was:"]
    for pick in session.picks:
        scenario = pick.build()
        when = next((a["at"] for a in session.answers if a["cause"] == pick.cause and a["right"]), None)
        found = f"found after {_since(session.started_at, when)}" if when else "NOT found"
        lines.append(f"  {pick.cause:<28} {found:<18} (drill {scenario.name}: {scenario.doc})")
    wrong = [a["cause"] for a in session.answers if not a["right"]]
    lines.append(f"  wrong answers: {', '.join(wrong) or 'none'}")
    return "\n".join(lines)


def already_active(target: Target) -> list[str]:
    """The alerts active before a fault is injected (none when Alertmanager does not answer: the
    trainee's first finding, then)."""
    try:
        return [describe(labels) for labels in active_alerts(target.url("alertmanager"))]
    except PromAPIError:
        return []


def _run_traffic(in_flight: int, kinds: list[str]) -> None:
    """The ``training-traffic`` program: the drills' traffic until supervisord stops it."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    target = Target.current()
    rates = {
        RECORDS: 2.0,
        READS: 2.0,
        CHATS: CHAT_TRAFFIC_RPS,
        SAGAS: SAGA_TRAFFIC_RPS,
        UPLOADS: UPLOAD_TRAFFIC_RPS,
    }
    with contextlib.ExitStack() as running:
        traffics = [
            running.enter_context(Traffic(target, rates[kind], max_in_flight=in_flight, kind=kind))
            for kind in kinds
        ]
        while not stop.wait(60):
            print(f"answers so far: {[dict(t.statuses) for t in traffics]}", flush=True)


if __name__ == "__main__":
    _run_traffic(int(sys.argv[1]), sys.argv[2:] or [RECORDS])
