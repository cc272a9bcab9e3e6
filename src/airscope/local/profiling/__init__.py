"""Profiles of the running local platform's services, taken on demand (`airscope profile`, the drills).

- CPU: py-spy samples a service's Python stacks from outside (``record_cpu``), written as a
  speedscope file and shared out by function (own and total time, ``speedscope``).
- Memory: the kit's profiling switch traces the service's allocations with tracemalloc for a
  bounded time and answers the lines that grew most (``record_memory``).
- A hung process: every thread's stack now (``dump``).

Files go to ``<home>/profiles/`` (``profiles_dir``) as ``<YYYYmmddTHHMMSSZ>-<program>-cpu.speedscope.json``
and ``<YYYYmmddTHHMMSSZ>-<program>-memory.json``; the local console opens them (``console_url``).
"""

from __future__ import annotations

from airscope.local.profiling._cpu import CpuProfile, dump, py_spy, record_command, record_cpu
from airscope.local.profiling._files import NAME, ProfileError, console_url, profiles_dir, taken_at
from airscope.local.profiling._memory import MemoryLine, MemoryProfile, record_memory
from airscope.local.profiling._target import Target, locate
from airscope.local.profiling.speedscope import FunctionShare

__all__ = [
    "NAME",
    "CpuProfile",
    "FunctionShare",
    "MemoryLine",
    "MemoryProfile",
    "ProfileError",
    "Target",
    "console_url",
    "dump",
    "locate",
    "profiles_dir",
    "py_spy",
    "record_command",
    "record_cpu",
    "record_memory",
    "taken_at",
]
