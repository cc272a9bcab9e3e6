"""Detached background processes, tracked by pid files, and waiting for them with a line of progress.

A pid file holds the pid and the process' start time: after a reboot, or once the pid has been
reused, a stale file names no live process rather than someone else's.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from airscope.local import LocalError, ports

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Background:
    """One background process: its pid file and the log file that takes its stdout and stderr."""

    name: str
    pid_file: Path
    log_file: Path

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        port: int | None = None,
    ) -> int:
        """Starts ``argv`` in its own session (so it outlives us and stops as one group), as ``user``."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if env is None else dict(env),
                cwd=cwd,
                start_new_session=True,
                **as_user(user),
            )
        started = _start_time(child.pid)
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{child.pid} {started} {port or '-'}\n")
        tmp.replace(self.pid_file)
        return child.pid

    def pid(self) -> int | None:
        """The pid of the process when it still runs, else None."""
        try:
            pid, started = self.pid_file.read_text().split()[:2]
        except (OSError, ValueError):
            return None
        return int(pid) if _start_time(int(pid)) == started else None

    def check_port(self, port: int) -> None:
        """Refuses to treat a process that already runs on another port as the one asked for.

        It stays up: it may serve a platform started with other settings.
        """
        try:
            recorded = self.pid_file.read_text().split()[2]
        except (OSError, IndexError):
            return
        if recorded not in ("-", str(port)):
            variable = ports.env_var(self.name)
            raise LocalError(
                f"{self.name} already runs on port {recorded} (pid {self.pid()}), not on {port}: "
                f"set {variable}={recorded} as when it was started, or run `airscope down` first."
            )

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Sends ``sig``, waits, then SIGKILLs whatever is left of the group; returns the pid it stopped."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, sig)
            if not _wait_gone(pid, timeout):
                print(
                    f"{self.name} (pid {pid}) ignored {sig.name} for {timeout:.0f}s: killing it",
                    file=sys.stderr,
                )
            _kill_group(pid)
        self.pid_file.unlink(missing_ok=True)
        return pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_file})"
        return f"last lines of {self.log_file}:\n" + "\n".join("  " + line for line in tail)


class Server:
    """A server run as a ``Background`` process on 127.0.0.1:``port``, ready once ``probe`` passes.

    A subclass says how to launch it (``_launch``), how to probe it, and how it stops.
    """

    stop_signal = signal.SIGTERM
    stop_timeout = 15.0

    def __init__(self, process: Background, port: int, ready_timeout: float) -> None:
        self.process = process
        self.port = port
        self.ready_timeout = ready_timeout

    def _launch(self) -> None:
        raise NotImplementedError

    def probe(self) -> None:
        """Raises unless the server answers."""
        raise NotImplementedError

    def is_running(self) -> bool:
        return self.process.pid() is not None

    def start(self) -> None:
        """Launches the server unless it already runs (on ``port``), then waits until it is ready.

        One launched here that never gets ready is stopped, so it cannot linger holding its port;
        one that was already running is left alone whatever happens.
        """
        launched = self.process.pid() is None
        if launched:
            self._launch()
        else:
            self.process.check_port(self.port)
        try:
            self.wait_ready()
        except LocalError:
            if launched:
                self.stop()
            raise

    def wait_ready(self) -> None:
        wait_until(
            f"{self.process.name} on 127.0.0.1:{self.port}",
            self.probe,
            timeout=self.ready_timeout,
            process=self.process,
        )

    def stop(self) -> int | None:
        """Sends ``stop_signal`` and waits; returns the pid it stopped."""
        return self.process.stop(self.stop_signal, timeout=self.stop_timeout)


def as_user(user: str | None) -> dict:
    """Popen arguments that run the child as ``user`` with its groups (what runuser would do)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": os.getgrouplist(user, entry.pw_gid)}


@contextmanager
def progress(what: str) -> Iterator[None]:
    """Prints ``what ... ok (1.2s)`` (or ``failed``) on stderr around a step that takes a while."""
    print(f"{what} ...", end=" ", file=sys.stderr, flush=True)
    began = time.monotonic()
    try:
        yield
    except BaseException:
        print("failed", file=sys.stderr)
        raise
    print(f"ok ({time.monotonic() - began:.1f}s)", file=sys.stderr)


def wait_until(what: str, probe: Callable[[], object], *, timeout: float, process: Background) -> None:
    """Retries ``probe`` until it stops raising; fails early when ``process`` dies, with its log's tail."""
    try:
        probe()
        return
    except Exception:  # not ready yet: wait below, with a line of progress
        pass
    deadline = time.monotonic() + timeout
    with progress(f"waiting for {what}"):
        while True:
            try:
                probe()
                return
            except Exception as exc:
                cause = f"{type(exc).__name__}: {exc}"
            if process.pid() is None:
                raise LocalError(f"{what} did not come up: its process exited.\n{process.log_tail()}")
            if time.monotonic() > deadline:
                raise LocalError(
                    f"{what} was not ready after {timeout:.0f}s (last attempt: {cause}).\n{process.log_tail()}"
                )
            time.sleep(0.1)


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``: what would be orphaned if its leader were gone."""
    members = []
    for proc in psutil.process_iter():
        with suppress(psutil.Error, ProcessLookupError):  # ended since the listing
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
    return members


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants now ([] when it is gone). PostgreSQL's backends start sessions of
    their own, so a process group would miss them; the parent links do not."""
    try:
        root = psutil.Process(pid)
        return [pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def pss_bytes(pids: Iterable[int]) -> int:
    """The processes' proportional share of memory (PSS: each shared page divided among the processes
    that map it), the figure that adds up over processes: PostgreSQL's backends all map its shared
    buffers, and their RSS would count them once each. A process gone meanwhile counts 0."""
    total = 0
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            total += psutil.Process(pid).memory_full_info().pss
    return total


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU time the processes have used so far; a process gone meanwhile counts 0."""
    total = 0.0
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def resident_bytes(pid: int) -> int:
    """The process's resident memory; LocalError once it is gone."""
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.NoSuchProcess:
        raise LocalError(f"process {pid} is gone") from None


def _start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (the pid file's format, kept so that a pid
    file written before still names its process); None when it is gone or a zombie."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return str(round((proc.create_time() - psutil.boot_time()) * _CLK_TCK))
    except psutil.NoSuchProcess:
        return None


def _reap(pid: int) -> None:
    """Collects the exit status when the process is our child (tests), so it does not linger as a zombie."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if _start_time(pid) is None:
            return True
        time.sleep(0.05)
    return False


def _kill_group(pgid: int) -> None:
    """SIGKILLs the leader if it still runs and anything it left behind in its group, and waits for them."""
    deadline = time.monotonic() + 5
    while members := group_members(pgid):
        if time.monotonic() > deadline:
            raise LocalError(f"processes {members} of group {pgid} survive SIGKILL")
        for pid in members:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pgid)
        time.sleep(0.05)
    _reap(pgid)
