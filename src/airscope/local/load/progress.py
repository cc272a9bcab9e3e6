"""The progress line on stderr while a load runs, and the summary it prints at the end."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from airscope import tables
from airscope.local.load.truth import Tally


class Progress:
    """elapsed, sent, ok, errors, skipped and the current answer rate on stderr: one line rewritten in
    place on a terminal, else a line every ``log_every`` seconds (a log stays readable)."""

    def __init__(
        self,
        tally: Tally,
        duration: float,
        *,
        stream: TextIO | None = None,
        interval: float = 0.5,
        log_every: float = 10.0,
    ) -> None:
        self.tally = tally
        self.duration = duration
        self.stream = stream or sys.stderr
        self.interval = interval if self.stream.isatty() else log_every
        self.started = time.monotonic()
        self.last = (self.started, 0)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.show()

    def line(self, now: float) -> str:
        answered = self.tally.ok + self.tally.errors
        since, before = self.last
        rate = (answered - before) / (now - since) if now > since else 0.0
        self.last = (now, answered)
        return (
            f"{min(now - self.started, self.duration):5.0f}s/{self.duration:.0f}s  sent {self.tally.sent}  "
            f"ok {self.tally.ok}  errors {self.tally.errors}  skipped {sum(self.tally.skipped.values())}  "
            f"{rate:.1f} rps"
        )

    def show(self, final: bool = False) -> None:
        text = self.line(time.monotonic())
        if self.stream.isatty():
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def render(summary: dict[str, Any]) -> str:
    """The summary as the terminal shows it: what was sent by route and status, then the latency."""
    requests = [
        (
            row["method"],
            row["route"],
            row["status"] if row["status"] is not None else f"no answer ({row['error']})",
            row["count"],
            row["ok"],
        )
        for row in summary["requests"]
    ]
    latency = [
        (row["method"], row["route"], row["count"], f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}")
        for row in summary["latency"]
    ]
    totals = summary["totals"]
    return "\n".join(
        [
            f"{summary['gateway']}: {summary['elapsed_seconds']:.1f}s at {summary['rps']:g} actions/s, "
            f"seed {summary['seed']}" + ("  (interrupted)" if summary["interrupted"] else ""),
            "",
            tables.text(("method", "route", "status", "count", "ok"), requests, align="lllrr"),
            "",
            f"totals: {totals['actions']} actions planned, {totals['skipped']} skipped (at the in-flight "
            f"limit of {summary['max_in_flight']}); {totals['sent']} requests sent, {totals['answered']} "
            f"answered, {totals['ok']} as expected, {totals['errors']} errors",
            "",
            "client-side latency",
            tables.text(("method", "route", "count", "p50 ms", "p95 ms"), latency, align="llrrr"),
        ]
    )
