"""supervisord runs every local process: it restarts one that crashes (with a growing delay while it
keeps failing at start), keeps one stopped by ``airscope stop`` stopped, rotates each program's output
into ``log/<program>.log``, and stops whole process groups, so nothing is orphaned.

One supervisord per home, driven over XML-RPC on a unix socket. Programs are defined one file each
under ``supervisor/programs/`` and added or removed without touching the others (``scale`` adds
instances while the rest run); none starts by itself: the runner starts each in dependency order
and gates the next on its health.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from supervisor.xmlrpc import SupervisorTransport

from airscope.local import LocalError
from airscope.local.process import pss_bytes, tree

LOG_MAX_BYTES = (
    10 * 1024**2
)  # bytes per file (supervisord takes a plain count); older output moves to .1, .2, ... (retention: airscope.local.logs)
LOG_BACKUPS = 5
START_SECONDS = 3  # a program must run this long to count as started; earlier exits are retried
START_RETRIES = 8  # with 1 s, 2 s, 3 s ... between attempts, then it is left FATAL


@dataclass(frozen=True)
class Program:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # empty: supervisord's own environment
    cwd: Path | None = None
    user: str | None = None
    stop_signal: str = "TERM"
    stop_wait: int = 15
    port: int | None = None  # recorded, so a second `up` asking for another port is refused


class Supervisor:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.dir = home / "supervisor"
        self.programs_dir = self.dir / "programs"
        self.env_dir = self.dir / "env"
        self.config = self.dir / "supervisord.conf"
        self.socket = home / "run" / "supervisor.sock"
        self.pid_file = home / "run" / "supervisord.pid"
        self.log_dir = home / "log"

    # --- the daemon ---------------------------------------------------------------------------------

    @property
    def rpc(self) -> xmlrpc.client.ServerProxy:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.rpc.supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def ensure_running(self) -> None:
        for directory in (self.programs_dir, self.env_dir, self.socket.parent, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.env_dir.chmod(0o700)
        self.config.write_text(self._main_config())
        if self.running():
            return
        self.socket.unlink(missing_ok=True)
        supervisord = Path(sys.executable).with_name("supervisord")
        done = subprocess.run([str(supervisord), "-c", str(self.config)], capture_output=True, text=True)
        if done.returncode != 0:
            raise LocalError(f"supervisord did not start: {(done.stdout + done.stderr).strip()}")
        deadline = time.monotonic() + 10
        while not self.running():
            if time.monotonic() > deadline:
                raise LocalError(
                    f"supervisord did not answer on {self.socket}; see {self.log_dir}/supervisord.log"
                )
            time.sleep(0.05)

    def _main_config(self) -> str:
        user = "user=root\n" if os.geteuid() == 0 else ""
        return (
            "; Written by airscope.local.supervisor at each `airscope up`.\n"
            "[supervisord]\n"
            f"logfile={self.log_dir / 'supervisord.log'}\nlogfile_maxbytes={LOG_MAX_BYTES}\n"
            f"pidfile={self.pid_file}\ndirectory={self.home}\n{user}"
            "[unix_http_server]\n"
            f"file={self.socket}\nchmod=0700\n"
            # `.venv/bin/supervisorctl -c <home>/supervisor/supervisord.conf status` works too.
            "[supervisorctl]\n"
            f"serverurl=unix://{self.socket}\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            "[include]\n"
            f"files={self.programs_dir}/*.conf\n"
        )

    def shutdown(self, order: Iterable[str]) -> list[str]:
        """Stops the programs in ``order`` first (then any other), then supervisord; returns what stopped."""
        if not self.running():
            return []
        stopped = []
        states = {info["name"]: info for info in self.rpc.supervisor.getAllProcessInfo()}
        names = [n for n in order if n in states] + sorted(n for n in states if n not in order)
        for name in names:
            if states[name]["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
                self.stop(name)
                stopped.append(name)
        pid = self._daemon_pid()
        self.rpc.supervisor.shutdown()
        deadline = time.monotonic() + 15
        while pid and psutil.pid_exists(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return stopped

    def _daemon_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    # --- programs -----------------------------------------------------------------------------------

    def define(self, program: Program) -> None:
        """Adds ``program``, or replaces its definition when it changed (restarting it if it ran)."""
        conf = self.programs_dir / f"{program.name}.conf"
        text = self._program_config(program)
        if conf.exists() and conf.read_text() == text and self._known(program.name):
            return
        was_running = self._known(program.name) and self.state(program.name) == "RUNNING"
        if self._known(program.name):
            self.stop(program.name)
            self.rpc.supervisor.removeProcessGroup(program.name)
        conf.write_text(text)
        self.rpc.supervisor.reloadConfig()
        self.rpc.supervisor.addProcessGroup(program.name)
        if was_running:
            self.start(program.name)

    def remove(self, name: str) -> None:
        if self._known(name):
            self.stop(name)
            self.rpc.supervisor.removeProcessGroup(name)
        (self.programs_dir / f"{name}.conf").unlink(missing_ok=True)
        (self.env_dir / f"{name}.json").unlink(missing_ok=True)
        self.rpc.supervisor.reloadConfig()

    def start(self, name: str) -> None:
        if self.state(name) in ("RUNNING", "STARTING"):
            return
        try:
            self.rpc.supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise LocalError(f"supervisord could not start {name}: {fault.faultString}") from None

    def stop(self, name: str) -> None:
        try:
            self.rpc.supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise LocalError(f"supervisord could not stop {name}: {fault.faultString}") from None

    def state(self, name: str) -> str | None:
        """RUNNING, STARTING, BACKOFF, STOPPED, EXITED, FATAL...; None for an unknown program."""
        try:
            return self.rpc.supervisor.getProcessInfo(name)["statename"]
        except xmlrpc.client.Fault:
            return None

    def pid(self, name: str) -> int | None:
        try:
            info = self.rpc.supervisor.getProcessInfo(name)
        except (OSError, xmlrpc.client.Error):
            return None
        return info["pid"] or None if info["statename"] in ("RUNNING", "STARTING") else None

    def defined_port(self, name: str) -> int | None:
        """The port ``name`` was defined with, when it was."""
        try:
            first = (self.programs_dir / f"{name}.conf").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        value = first.removeprefix("; port=")
        return int(value) if value.isdigit() else None

    def names(self) -> list[str]:
        return [info["name"] for info in self.rpc.supervisor.getAllProcessInfo()]

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_file(name)
        try:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {path})"
        return f"last lines of {path}:\n" + "\n".join("  " + line for line in tail)

    def _known(self, name: str) -> bool:
        return self.state(name) is not None

    def _program_config(self, program: Program) -> str:
        argv = list(program.argv)
        if program.env:
            env_file = self.env_dir / f"{program.name}.json"
            fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as file:
                json.dump(dict(program.env), file)
            argv = [sys.executable, "-m", "airscope.local.launch", str(env_file), *argv]
        # supervisord reads its config with %-interpolation: a literal % is %%.
        command = shlex.join(argv).replace("%", "%%")
        lines = [
            f"; port={program.port or '-'}",
            f"[program:{program.name}]",
            f"command={command}",
            f"directory={program.cwd or self.home}",
            *([f"user={program.user}"] if program.user else []),
            "autostart=false",
            "autorestart=true",
            f"startsecs={START_SECONDS}",
            f"startretries={START_RETRIES}",
            f"stopsignal={program.stop_signal}",
            f"stopwaitsecs={program.stop_wait}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={self.log_file(program.name)}",
            f"stdout_logfile_maxbytes={LOG_MAX_BYTES}",
            f"stdout_logfile_backups={LOG_BACKUPS}",
        ]
        return "\n".join(lines) + "\n"

    def processes(self) -> dict[str, list[int]]:
        """Every running program's processes: its main process and all its descendants (see
        ``process.tree``); supervisord itself under "supervisord"."""
        found = {
            info["name"]: tree(info["pid"]) for info in self.rpc.supervisor.getAllProcessInfo() if info["pid"]
        }
        if daemon := self._daemon_pid():
            found["supervisord"] = [daemon]
        return found

    def memory(self) -> tuple[int, int]:
        """(bytes of memory, process count) of supervisord and every process of its programs, each
        process counted by its proportional share (PSS), so that shared pages count once."""
        pids = [pid for pids in self.processes().values() for pid in pids]
        return pss_bytes(pids), len(pids)
