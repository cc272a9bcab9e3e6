"""Process trees, their memory and CPU, and pid files, on real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from airscope.local import LocalError, ports, process

# A parent that starts a child in a session of its own (as PostgreSQL's backends are), then burns CPU.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
print(child.pid, flush=True)
while time.process_time() < 0.5:
    pass
print("busy done", flush=True)
time.sleep(60)
"""


@pytest.fixture
def parent_and_child():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.stdout.readline()  # its half second of CPU is spent
    try:
        yield parent.pid, child
    finally:
        os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_a_tree_holds_descendants_in_other_sessions(parent_and_child):
    parent, child = parent_and_child
    assert process.tree(parent) == [parent, child]
    assert process.tree(child) == [child]


def test_tree_memory_and_cpu_add_up_over_the_tree(parent_and_child):
    parent, child = parent_and_child
    assert process.cpu_seconds(process.tree(parent)) >= 0.45  # clock ticks: 10 ms steps
    assert process.cpu_seconds(process.tree(parent)) == pytest.approx(
        process.cpu_seconds([parent]) + process.cpu_seconds([child]), abs=0.05
    )
    # Shares of shared pages move as other processes map them: equal within a little.
    assert process.pss_bytes(process.tree(parent)) == pytest.approx(
        process.pss_bytes([parent]) + process.pss_bytes([child]), rel=0.05
    )
    assert process.pss_bytes([child]) > 1_000_000  # a Python interpreter
    assert process.pss_bytes([child]) <= process.resident_bytes(child)


def test_a_gone_process_counts_nothing_and_has_no_memory():
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert process.tree(gone.pid) == []
    assert process.pss_bytes([gone.pid]) == 0
    assert process.cpu_seconds([gone.pid]) == 0.0
    with pytest.raises(LocalError, match=f"process {gone.pid} is gone"):
        process.resident_bytes(gone.pid)


def test_a_pid_file_names_its_process_until_it_stops(tmp_path):
    background = process.Background("sleeper", tmp_path / "sleeper.pid", tmp_path / "sleeper.log")
    pid = background.start(["sleep", "60"])
    try:
        assert background.pid() == pid
        assert process.group_members(pid) == [pid]  # its own session and group
        recorded = (tmp_path / "sleeper.pid").read_text().split()[1]
        # Clock ticks since boot, as /proc/PID/stat field 22 has it: pid files written before still match.
        with open(f"/proc/{pid}/stat") as stat:
            assert recorded == stat.read().rsplit(")", 1)[1].split()[19]
    finally:
        assert background.stop() == pid
    assert background.pid() is None
    assert process.group_members(pid) == []


def test_a_stale_pid_file_names_no_process(tmp_path):
    (tmp_path / "old.pid").write_text(f"{os.getpid()} 12345 -\n")  # a live pid, another start time
    assert process.Background("old", tmp_path / "old.pid", tmp_path / "old.log").pid() is None


def test_listeners_of_a_port(free_port):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports.listeners(port) == [os.getpid()]
    assert ports.listeners(free_port()) == []
