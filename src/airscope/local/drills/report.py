"""``airscope drill all`` keeps its measured times, and the error budget each drill spent, in
docs/alerting.md, between two markers."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

from airscope import checkout, tables
from airscope.local.drills.scenarios import RESOLVE_WITHIN
from airscope.slo import spent
from airscope.stack.settings import SLO_PERIOD

START = "<!-- drill results: written by `airscope drill all`; edits between these markers are lost -->"
END = "<!-- end of drill results -->"


def _cell(seconds: float | None, bound: float) -> str:
    if seconds is None:
        return "**not notified**"
    return f"{seconds} s" if seconds <= bound else f"**{seconds} s** (over)"


def _budget(result) -> str:
    if result.started is None:
        return ""
    return "not measured" if result.budget_spent is None else spent.line(result.budget_spent)


def table(results, when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    header = (
        "drill",
        "expected alert",
        "fault to notification (bound)",
        "healing to resolved (bound)",
        "also fired",
        "unexpected",
        f"budget spent (of {SLO_PERIOD})",
    )
    rows = []
    for r in results:
        if r.skipped or r.error:
            status = f"skipped: {r.skipped}" if r.skipped else f"**failed**: {r.error}"
            rows.append((f"`{r.scenario}`", f"`{r.expected}`", status, "", "", "", _budget(r)))
            continue
        rows.append(
            (
                f"`{r.scenario}`",
                f"`{r.expected}`",
                f"{_cell(r.notified_after_seconds, r.notify_bound_seconds)} ({r.notify_bound_seconds:.0f} s)",
                f"{_cell(r.resolved_after_seconds, RESOLVE_WITHIN)} ({RESOLVE_WITHIN:.0f} s)",
                ", ".join(f"`{a}`" for a in r.also_fired) or "none",
                ", ".join(f"`{a}`" for a in r.unexpected) or "none",
                _budget(r),
            )
        )
    return (
        f"Measured on {when:%Y-%m-%d %H:%M} UTC by `airscope drill all` ({platform.node()}, "
        f"{platform.system()} {platform.release()}). Budget spent: the requests each fault made "
        f"fail or too slow, as a share of those its SLO allows over the {SLO_PERIOD} up to healing "
        "(on a platform younger than that, of every request since it started, so a drill on a young "
        "platform can spend more than all of it).\n\n" + tables.markdown(header, rows)
    )


def write(results, path: Path | None = None) -> Path:
    path = path or checkout.root() / "docs" / "alerting.md"
    text = path.read_text() if path.exists() else f"# Alerting\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Drill results\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{table(results)}\n{END}{tail}")
    return path
