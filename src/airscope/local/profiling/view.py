"""What `airscope profile` prints: the top functions (or lines) of a profile in 80 columns, and where
the whole profile is."""

from __future__ import annotations

from airscope import tables, units
from airscope.local.profiling._cpu import CpuProfile
from airscope.local.profiling._files import console_url
from airscope.local.profiling._memory import MemoryProfile
from airscope.local.profiling.speedscope import short_file

WHERE_WIDTH = 34  # a file:line column past this keeps its end: the file's name and the line
PERCENT_WIDTH = 6  # "100.0%"
PERCENT_WIDTH = 6  # "100.0%"


def where(file: str, line: int) -> str:
    text = f"{short_file(file)}:{line}"
    return text if len(text) <= WHERE_WIDTH else "…" + text[-(WHERE_WIDTH - 1) :]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _footer(path_label: str, profile: CpuProfile | MemoryProfile) -> list[str]:
    return [f"{path_label}: {profile.path}", f"console: {console_url(profile.path)}"]


def render_cpu(profile: CpuProfile, top: int = 15, *, idle: bool = False) -> str:
    what = "every thread, waiting or not (wall time)" if idle else "threads on a CPU"
    lines = [
        f"{profile.program} (pid {profile.pid}): {profile.samples} samples in "
        f"{units.format_duration(profile.seconds)}, {what}"
    ]
    if not profile.samples:
        lines.append(
            f"no samples: {profile.program} ran no Python on a CPU meanwhile (idle); "
            "--idle samples its waiting threads too"
        )
    else:
        shown = profile.top[:top]
        places = [where(f.file, f.line) for f in shown]
        # The function's name gives way, never its file and line: both are needed to find it.
        name_width = tables.TERMINAL_WIDTH - 2 * PERCENT_WIDTH - 3 * 2 - max(len(p) for p in places)
        rows = [
            (f"{f.own:.1%}", f"{f.total:.1%}", _cut(f.name, name_width), place)
            for f, place in zip(shown, places, strict=True)
        ]
        lines.append(tables.text(("own", "total", "function", "file:line"), rows, align="rrll"))
        lines.append("own: samples in the function itself; total: with it anywhere on the stack")
    return "\n".join(lines + _footer("speedscope", profile))


def render_memory(profile: MemoryProfile, top: int = 15) -> str:
    lines = [
        f"{profile.program}: {units.format_size(profile.traced_bytes)} allocated and still held after "
        f"{units.format_duration(profile.seconds)} of tracing (peak {units.format_size(profile.peak_bytes)})"
    ]
    if not profile.top:
        lines.append("nothing allocated meanwhile is still held")
    else:
        rows = [
            (units.format_size(m.grown_bytes), str(m.count), where(m.file, m.line)) for m in profile.top[:top]
        ]
        lines.append(tables.text(("grown", "blocks", "file:line"), rows, align="rrl"))
    return "\n".join(lines + _footer("file", profile))
