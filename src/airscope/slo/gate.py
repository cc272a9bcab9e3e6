"""The release gate: whether every SLO has enough of its budget left for a release to go out.

The error-budget policy of docs/slo.md in code: below ``min_remaining`` (25% by default) a release
is blocked; below WARN_REMAINING (50%) it passes with a warning naming the SLOs to review. An SLO
without requests in the window cannot block (it has spent nothing), but when no SLO of the
selection had any, the gate cannot tell: the Prometheus asked is likely not the one with the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airscope.slo.budget import Budget

DEFAULT_MIN_REMAINING = 0.25
WARN_REMAINING = 0.5
POLICY = "docs/slo.md#error-budget-policy"
EXIT_CODES = {"pass": 0, "block": 1, "unknown": 2}
_SHOWN = 3  # SLOs named in the line; the rest are counted


@dataclass(frozen=True)
class GateResult:
    verdict: str  # "pass" | "block" | "unknown"
    line: str  # one line for the pipeline's log, saying why
    failing: tuple[Budget, ...]  # the SLOs below the minimum, worst first
    warned: tuple[Budget, ...]  # the SLOs at or above the minimum but below WARN_REMAINING

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def as_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "line": self.line,
            "failing": [b.as_json() for b in self.failing],
            "warned": [b.as_json() for b in self.warned],
        }


def gate(budgets: Sequence[Budget], min_remaining: float = DEFAULT_MIN_REMAINING) -> GateResult:
    """The verdict on ``budgets`` (any order) at a minimum share of budget left of ``min_remaining``."""
    counted = sorted((b for b in budgets if b.remaining is not None), key=lambda b: b.remaining)
    minimum = _percent(min_remaining)
    if not counted:
        window = budgets[0].window if budgets else "the window"
        return GateResult(
            "unknown",
            f"slo gate cannot tell: no SLO had requests in {_window(window)}; is this the Prometheus "
            "that records airscope's SLO rules?",
            (),
            (),
        )
    failing = tuple(b for b in counted if b.remaining < min_remaining)
    if failing:
        return GateResult(
            "block",
            f"slo gate blocked: {_slos(failing)} under {minimum} of budget left ({_listed(failing)}); "
            f"only fixes and reliability work go out until {_it(failing)} back ({POLICY})",
            failing,
            (),
        )
    warned = tuple(b for b in counted if b.remaining < max(WARN_REMAINING, min_remaining))
    line = f"slo gate passed: every SLO has at least {minimum} of its budget left"
    if warned:
        line += (
            f"; {_slos(warned)} under {_percent(WARN_REMAINING)} ({_listed(warned)}): "
            f"{'its team reviews' if len(warned) == 1 else 'their teams review'} what spent it"
        )
    else:
        worst = counted[0]
        line += f" (least: {worst.service} {worst.sli} {_percent(worst.remaining)})"
    return GateResult("pass", line, (), warned)


def _listed(found: Sequence[Budget]) -> str:
    named = [f"{b.service} {b.sli} {_percent(b.remaining)}" for b in found[:_SHOWN]]
    if len(found) > _SHOWN:
        named.append("...")
    return ", ".join(named)


def _slos(found: Sequence[Budget]) -> str:
    return "1 SLO" if len(found) == 1 else f"{len(found)} SLOs"


def _it(found: Sequence[Budget]) -> str:
    return "it is" if len(found) == 1 else "they are"


def _window(window: str) -> str:
    return f"the last {window}" if window[-1].isalpha() else window


def _percent(share: float | None) -> str:
    return f"{share * 100:.1f}".rstrip("0").rstrip(".") + "%"
