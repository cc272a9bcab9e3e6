"""`airscope status`'s airtable line: calls sent, cache hit ratio and calls saved, within 80 columns."""

from __future__ import annotations

from airscope.local.status import AirtableSavings, Status, render


def test_the_airtable_line_says_calls_hits_and_savings_within_80_columns() -> None:
    line = AirtableSavings(calls=4.87, hit_ratio=0.9234, coalesced=1.26, batched=0.4).line()
    assert line == "airtable: 4.9 calls/s, cache hit 92 %, saved/s 1.3 coalesced, 0.4 batched"
    # Airtable allows 5 calls/s per base; what is saved may be far more.
    widest = AirtableSavings(calls=99.9, hit_ratio=1.0, coalesced=9999.9, batched=999.9).line()
    assert widest is not None and len(widest) <= 80, widest


def test_unknown_values_are_dashes_and_no_gateway_no_line() -> None:
    assert AirtableSavings(calls=0.0, coalesced=0.0, batched=0.0).line() == (
        "airtable: 0.0 calls/s, cache hit -, saved/s 0.0 coalesced, 0.0 batched"
    )
    assert AirtableSavings().line() is None


def test_status_shows_it_and_its_json_holds_it() -> None:
    status = Status(rows=[], prometheus=None, alertmanager=None, firing=[])
    assert "airtable:" not in render(status)
    status.airtable = AirtableSavings(calls=2.0, hit_ratio=0.5, coalesced=0.0, batched=1.0)
    assert "airtable: 2.0 calls/s, cache hit 50 %" in render(status)
    assert status.as_json()["airtable"] == {"calls": 2.0, "hit_ratio": 0.5, "coalesced": 0.0, "batched": 1.0}
