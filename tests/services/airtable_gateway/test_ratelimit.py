"""The per-base limiter: a burst of `limit` passes at once, then at most `limit` per window, bounded keys."""

from __future__ import annotations

import asyncio

import pytest

from airscope.services.airtable_gateway.ratelimit import RateLimiter, TokenWindow

BASE_A = "appAAAAAAAAAAAAAA"
BASE_B = "appBBBBBBBBBBBBBB"


class FakeTime:
    """A clock that only moves when told; ``sleep`` records how long each caller would wait."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_burst_of_the_limit_passes_at_once_and_the_next_waits_for_the_first_token_back() -> None:
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    waits = [tokens.reserve() for _ in range(12)]
    assert waits == pytest.approx([0] * 5 + [1.0] * 5 + [2.0] * 2)


def test_no_window_ever_holds_more_than_the_limit() -> None:
    # Airtable (and its stand-in) count requests in a sliding one-second window.
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    sends = []
    for step in range(40):  # callers arriving every 0.13 s, faster than the limit allows
        time.now = 100.0 + step * 0.13
        sends.append(time.now + tokens.reserve())
    for first in sends:
        assert sum(1 for t in sends if first <= t < first + 1.0) <= 5


def test_tokens_come_back_one_window_after_they_were_spent() -> None:
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    for _ in range(5):
        tokens.reserve()
    assert not tokens.is_idle()
    time.now += 0.4
    assert tokens.reserve() == pytest.approx(0.6)
    time.now += 60
    assert tokens.is_idle()
    assert [tokens.reserve() for _ in range(5)] == [0] * 5


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenWindow(0, 1.0)
    with pytest.raises(ValueError):
        TokenWindow(5, 0)


@pytest.mark.anyio
async def test_concurrent_callers_each_book_their_own_token() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, window=1.0, clock=time.clock, sleep=time.sleep)
    waits = await asyncio.gather(*(limiter.acquire(BASE_A) for _ in range(12)))
    assert sorted(waits) == pytest.approx([0] * 5 + [1.0] * 5 + [2.0] * 2)
    assert sorted(time.slept) == pytest.approx([1.0] * 5 + [2.0] * 2)


@pytest.mark.anyio
async def test_bases_have_separate_limits() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, window=1.0, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        await limiter.acquire(BASE_A)
    assert await limiter.acquire(BASE_B) == 0
    assert await limiter.acquire(BASE_A) == pytest.approx(1.0)


@pytest.mark.anyio
async def test_idle_keys_are_dropped_once_there_are_many() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, window=1.0, clock=time.clock, sleep=time.sleep, max_keys=2)
    await limiter.acquire("a")
    await limiter.acquire("b")
    time.now += 1  # both idle again: indistinguishable from new ones
    await limiter.acquire("c")
    assert len(limiter) == 1
    await limiter.acquire("d")  # "c" spent a token within the window, so it is kept
    assert len(limiter) == 2
