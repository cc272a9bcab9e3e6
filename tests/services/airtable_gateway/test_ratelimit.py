"""The per-base limiter: a burst of `limit` passes at once, then at most `limit` per window, bounded
keys; its margin widens on Airtable's 429s (after the silence asked for) and creeps back."""

from __future__ import annotations

import asyncio

import pytest

from airscope.services.airtable_gateway.ratelimit import MAX_WIDENING, Paused, RateLimiter, TokenWindow

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
    waits = [tokens.reserve().wait for _ in range(12)]
    assert waits == pytest.approx([0] * 5 + [1.0] * 5 + [2.0] * 2)


def test_no_window_ever_holds_more_than_the_limit() -> None:
    # Airtable (and its stand-in) count requests in a sliding one-second window.
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    sends = []
    for step in range(40):  # callers arriving every 0.13 s, faster than the limit allows
        time.now = 100.0 + step * 0.13
        sends.append(time.now + tokens.reserve().wait)
    for first in sends:
        assert sum(1 for t in sends if first <= t < first + 1.0) <= 5


def test_tokens_come_back_one_window_after_they_were_spent() -> None:
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    for _ in range(5):
        tokens.reserve()
    assert not tokens.is_idle()
    time.now += 0.4
    assert tokens.reserve().wait == pytest.approx(0.6)
    time.now += 60
    assert tokens.is_idle()
    assert [tokens.reserve().wait for _ in range(5)] == [0] * 5


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


# -- adaptive to Airtable's 429s ----------------------------------------------------------------


def test_a_429_holds_every_request_until_retry_after_then_widens_the_window() -> None:
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    tokens.rate_limited(retry_after=2.0)
    assert tokens.reserve().wait == pytest.approx(2.0)  # nothing leaves before Airtable's Retry-After
    assert tokens.window == pytest.approx(1.5)
    tokens.rate_limited(retry_after=2.0)  # the same burst's next 429: one signal, not two
    assert tokens.window == pytest.approx(1.5)
    time.now += 1.5
    tokens.rate_limited(retry_after=1.0)
    assert tokens.window == pytest.approx(2.25)
    for _ in range(20):
        tokens.rate_limited(retry_after=1.0)
        time.now += 10
    assert tokens.window == pytest.approx(MAX_WIDENING)


def test_answers_without_429_creep_back_to_the_configured_window_and_never_below() -> None:
    time = FakeTime()
    tokens = TokenWindow(5, 1.05, clock=time.clock)
    tokens.rate_limited(retry_after=1.0)
    narrowed = []
    for _ in range(40):
        tokens.answered()
        narrowed.append(tokens.window)
    assert narrowed == sorted(narrowed, reverse=True)
    assert narrowed[5] > 1.05  # creeps, does not jump
    assert narrowed[-1] == 1.05


def test_never_more_than_the_limit_in_any_configured_window_while_the_margin_moves() -> None:
    time = FakeTime()
    tokens = TokenWindow(5, 1.0, clock=time.clock)
    sends = []
    for step in range(200):
        time.now = 100.0 + step * 0.05  # 20 requests/s offered, four times the limit
        if step % 37 == 0:
            tokens.rate_limited(retry_after=1.0)
        else:
            tokens.answered()
        sends.append(time.now + tokens.reserve().wait)
    assert sends == sorted(sends)  # callers leave in the order they booked
    for first in sends:
        assert sum(1 for t in sends if first <= t < first + 1.0) <= 5


@pytest.mark.anyio
async def test_a_pause_longer_than_a_caller_may_wait_is_refused_at_once() -> None:
    time = FakeTime()
    limiter = RateLimiter(5, window=1.0, max_pause=10.0, clock=time.clock, sleep=time.sleep)
    limiter.rate_limited(BASE_A, 30.0)  # Airtable's "30 s of silence"
    with pytest.raises(Paused) as paused:
        await limiter.acquire(BASE_A)
    assert paused.value.seconds == pytest.approx(30.0)
    assert await limiter.acquire(BASE_B) == 0  # other bases are not held
    time.now += 21
    assert await limiter.acquire(BASE_A) == pytest.approx(9.0)  # within the budget: waits it out
    assert limiter.widest_window() == pytest.approx(1.5)


def test_a_caller_that_woke_late_holds_back_the_one_whose_token_follows_its_own() -> None:
    time = FakeTime()
    tokens = TokenWindow(2, 1.0, clock=time.clock)
    first, second, third = (tokens.reserve() for _ in range(3))
    assert (first.wait, second.wait, third.wait) == (0, 0, 1.0)
    time.now += 0.3  # the event loop was busy: the first caller goes on 0.3 s late
    assert tokens.went(first) == 0
    assert tokens.went(second) == 0
    time.now = 101.0  # the third wakes when due, but the first token left at 100.3
    assert tokens.went(third) == pytest.approx(0.3)
    assert third.token.at == pytest.approx(101.3)
