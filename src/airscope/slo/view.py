"""Budgets as a terminal reads them: 80 columns, one line per SLO under its service, services in the
order of their worst SLO, and a few lines saying what the columns mean and what the data covers."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from airscope import tables
from airscope.slo.budget import BURN_WINDOWS, EXHAUSTION_WINDOW, Budget

# Bad requests left are in --json: a ninth column would not fit 80 columns beside the minutes.
HEADER = ("SLO", "TARGET", "ACTUAL", "LEFT", "OUTAGE", f"BURN {'/'.join(BURN_WINDOWS)}", "EMPTY IN")
# Data over less than this share of the window is said to be partial.
_COVERED = 0.99


def render(budgets: Sequence[Budget], source: str) -> str:
    """The table of ``budgets`` (worst first, as budget.budgets gives them) read from ``source``."""
    counted = [b for b in budgets if b.remaining is not None]
    silent = sorted({b.service for b in budgets if b.remaining is None} - {b.service for b in counted})
    window = budgets[0].window if budgets else "30d"
    lines = [f"Error budgets over {_window(window)}, worst first ({source})", ""]
    if counted:
        lines.extend(_table(counted))
        lines.append("")
        lines.extend(_wrapped(_legend(window)))
        lines.extend(_wrapped(_coverage(counted, window)))
    else:
        lines.extend(
            _wrapped(
                f"No SLO had requests in {_window(window)}: is the platform loaded, and does this "
                "Prometheus record airscope's SLO rules (group airscope-slo-budget)?"
            )
        )
    if silent and counted:
        lines.extend(_wrapped(f"No requests in {_window(window)}: {', '.join(silent)}."))
    return "\n".join(lines)


def _table(counted: Sequence[Budget]) -> list[str]:
    """The SLOs under their services, services in the order of their worst SLO. A service's name is a
    line of its own, so the column of SLIs is as narrow as "availability"."""
    groups = {
        service: [b for b in counted if b.service == service]
        for service in dict.fromkeys(b.service for b in counted)
    }
    rows = [_row(b) for found in groups.values() for b in found]
    header, *lines = tables.text(HEADER, rows, align="lrrrrrr").splitlines()
    table = [header]
    for service, found in groups.items():
        table.append(service)
        table.extend(lines[: len(found)])
        lines = lines[len(found) :]
    return table


def _row(b: Budget) -> list[str]:
    return [
        f"  {b.sli}",
        _share(b.objective),
        _actual(b.sli_value, b.objective),
        _share(b.remaining, 1),
        _minutes(b.remaining_minutes),
        "/".join(_rate(b.burn_rates[w]) for w in BURN_WINDOWS),
        _exhaustion(b.exhaustion_seconds),
    ]


def _legend(window: str) -> str:
    return (
        "LEFT: share of the error budget left; OUTAGE: the full outage it still buys at the window's "
        "average traffic (below 0: overspent by; --json: in bad requests too); BURN: how fast it goes, "
        f"1 = exactly spent over {_window(window)}; EMPTY IN: when it is spent at the "
        f"{EXHAUSTION_WINDOW} burn rate."
    )


def _coverage(counted: Sequence[Budget], window: str) -> str:
    covered = max(b.covered_seconds for b in counted)
    if covered >= _COVERED * (counted[0].end - counted[0].start):
        return ""
    return (
        f"Data covers only {_duration(covered)} of {_window(window)}: the figures read the rest of "
        "the window as like it."
    )


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, tables.TERMINAL_WIDTH) if text else []


def _window(window: str) -> str:
    return f"the last {window}" if window[-1].isalpha() else window


def _share(share: float | None, decimals: int = 2) -> str:
    """99.5%, 99%, 78.7%, -12.5%: as many decimals as needed, up to ``decimals``."""
    if share is None:
        return "-"
    text = f"{share * 100:.{decimals}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _actual(value: float | None, objective: float) -> str:
    """The SLI with a decimal more than its objective (at least two), so a miss by a hair shows
    (99.48% under 99.5%)."""
    if value is None:
        return "-"
    decimals = max(2, len(_share(objective, 4).rstrip("%").partition(".")[2]) + 1)
    return f"{value * 100:.{decimals}f}%"


def _rate(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate:.0f}" if rate >= 10 or rate == 0 else f"{rate:.1f}"


def _minutes(minutes: float | None) -> str:
    return "-" if minutes is None else _duration(minutes * 60)


def _exhaustion(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return "spent" if seconds == 0 else _duration(seconds)


def _duration(seconds: float) -> str:
    """The two largest units, whole: 3h36m, 2d4h, 45m, 30s; negative for an overspent budget."""
    if seconds < 0:
        return "-" + _duration(-seconds)
    parts = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    shown = [p for p in parts[:2] if not p.startswith("0")]
    return "".join(shown) or "0s"
