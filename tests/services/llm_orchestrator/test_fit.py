"""Fitting a tool result into the model's context: valid JSON, whole items, said what was left out."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from airscope.services.llm_orchestrator.fit import ELLIPSIS, MAX_VALUE_CHARS, Fitted, compact, fit


def test_a_result_that_fits_is_compact_and_untouched() -> None:
    assert fit({"tables": [{"name": "Orders"}], "total": 1}, 100) == Fitted(
        '{"tables":[{"name":"Orders"}],"total":1}', cut=False
    )


def test_the_longest_list_loses_items_from_its_end_and_says_how_many() -> None:
    data = {"tables": [{"name": f"Table {n:03d}"} for n in range(100)], "total": 100, "next_offset": 100}
    fitted = fit(data, 600)
    kept = json.loads(fitted.text)
    assert fitted.cut and len(fitted.text) <= 600
    assert kept["tables"] == data["tables"][: len(kept["tables"])] and kept["tables"]
    assert kept["omitted"] == {"tables": 100 - len(kept["tables"])}
    assert kept["total"] == 100 and kept["next_offset"] == 100
    # As many as fit: one more item would not have.
    one_more = {**kept, "tables": data["tables"][: len(kept["tables"]) + 1]}
    assert len(compact(one_more)) > 600


def test_long_values_are_shortened_before_any_item_is_left_out() -> None:
    data = {"records": [{"id": "rec1", "fields": {"Notes": "n" * 5_000}}], "more": False}
    fitted = fit(data, 2_000)
    notes = json.loads(fitted.text)["records"][0]["fields"]["Notes"]
    assert fitted.cut and notes == "n" * MAX_VALUE_CHARS + ELLIPSIS
    assert "omitted" not in json.loads(fitted.text)


def test_a_list_result_and_an_earlier_omission_are_kept_in_the_count() -> None:
    listed = json.loads(fit([{"n": n} for n in range(200)], 300).text)
    assert listed["omitted"]["items"] == 200 - len(listed["items"])
    merged = json.loads(fit({"rows": list(range(500)), "omitted": {"pages": 2}}, 200).text)
    assert merged["omitted"]["pages"] == 2 and merged["omitted"]["rows"] == 500 - len(merged["rows"])


def test_a_result_with_nothing_to_drop_becomes_a_note_not_broken_json() -> None:
    fitted = fit({"value": "v" * 900, "other": "w" * 900}, 500)
    assert fitted.cut and json.loads(fitted.text)["note"] == "result too large to show"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=2_500),
    lambda children: (
        st.lists(children, max_size=30) | st.dictionaries(st.text(max_size=8), children, max_size=8)
    ),
    max_leaves=200,
)


@given(value=json_values, limit=st.integers(min_value=200, max_value=5_000))
def test_whatever_the_result_the_text_is_valid_json_within_the_limit(value: object, limit: int) -> None:
    fitted = fit(value, limit)
    json.loads(fitted.text)
    assert len(fitted.text) <= limit
    assert fitted.cut == (fitted.text != compact(value))
