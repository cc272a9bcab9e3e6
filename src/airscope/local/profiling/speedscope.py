"""The one reader of py-spy's speedscope files: `airscope profile`, the drills and `airscope bench
profile` all count samples from here.

py-spy writes one ``sampled`` profile per thread, every sample a stack of indexes into the shared
frame table, root first, each sample weighing the same (one over the rate): a sample count is the
time. With ``--function`` a frame's line is its function's first line, so a function is one frame
whichever line it was on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any


@dataclass(frozen=True)
class Frame:
    name: str
    file: str
    line: int


@dataclass(frozen=True)
class FunctionShare:
    """One function of a CPU profile."""

    name: str
    file: str
    line: int
    own: float  # share (0..1) of samples with this function on top of the stack
    total: float  # share (0..1) of samples with this function anywhere on the stack

    def entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "own": round(self.own, 4),
            "total": round(self.total, 4),
        }


@dataclass(frozen=True)
class Speedscope:
    frames: tuple[Frame, ...]
    # (thread name, its samples): each sample the indexes of its frames, root first.
    threads: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...]

    def samples(self) -> Iterator[tuple[str, tuple[Frame, ...]]]:
        """Every sample that has a stack: its thread's name and its frames, root first."""
        for thread, stacks in self.threads:
            for stack in stacks:
                if stack:
                    yield thread, tuple(self.frames[i] for i in stack)

    @property
    def count(self) -> int:
        return sum(1 for stacks in (s for _, s in self.threads) for stack in stacks if stack)


def thread_name(label: str) -> str:
    """py-spy names a thread 'Thread <id> "<its Python name>"': the Python name, else the whole label."""
    return (label.split('"')[1] if label.count('"') >= 2 else "") or label


def read(path: Path) -> Speedscope:
    document = json.loads(path.read_text())
    frames = tuple(
        Frame(frame["name"], frame.get("file") or "", int(frame.get("line") or 0))
        for frame in document["shared"]["frames"]
    )
    threads = tuple(
        (thread_name(profile.get("name", "")), tuple(tuple(stack) for stack in profile.get("samples", ())))
        for profile in document.get("profiles", ())
    )
    return Speedscope(frames, threads)


def shares(speedscope: Speedscope, top: int | None = None) -> tuple[FunctionShare, ...]:
    """The functions by own share, largest first (ties: by total share), ``top`` of them (None: all)."""
    own: Counter[Frame] = Counter()
    total: Counter[Frame] = Counter()
    samples = 0
    for _, stack in speedscope.samples():
        samples += 1
        own[stack[-1]] += 1
        total.update(set(stack))  # once per sample, however deep a recursion goes
    if not samples:
        return ()
    ranked = sorted(total, key=lambda frame: (-own[frame], -total[frame], frame.name))[:top]
    return tuple(
        FunctionShare(frame.name, frame.file, frame.line, own[frame] / samples, total[frame] / samples)
        for frame in ranked
    )


def short_file(file: str) -> str:
    """A source file as a reader finds it: inside site-packages, from the airscope package, or from
    the standard library's directory; anything else whole."""
    parts = PurePosixPath(file).parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    if "airscope" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("airscope") :])
    stdlib = [i for i, part in enumerate(parts) if part.startswith("python3")]
    if stdlib and len(parts) > stdlib[-1] + 1:
        return "/".join(parts[stdlib[-1] + 1 :])
    return file
