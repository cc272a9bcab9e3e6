"""`airscope bench chat-tokens`: what it keeps and how it shows it, beside the figures from before."""

from __future__ import annotations

import json
from pathlib import Path

from airscope.bench import chat_tokens

ROOT = Path(__file__).resolve().parents[2]

KEPT = {
    "before_note": "an older commit",
    "before": [{"tables": 3, "chats": [{"question": "List the tables in my base", "input_tokens": 6000}]}],
    "runs": [],
}


def _run(tables: int, tokens: int) -> dict:
    chat = {
        "question": "List the tables in my base",
        "input_tokens": tokens,
        "tools": ["list_tables"],
        "answer": ".",
    }
    return {"tables": tables, "chats": [chat]}


def test_a_run_replaces_the_one_of_its_base_size_and_keeps_the_others() -> None:
    kept = chat_tokens.record(KEPT, _run(103, 3000))
    kept = chat_tokens.record(kept, _run(3, 2500))
    kept = chat_tokens.record(kept, _run(3, 2000))
    assert [(r["tables"], r["chats"][0]["input_tokens"]) for r in kept["runs"]] == [(3, 2000), (103, 3000)]
    assert kept["before"] == KEPT["before"] and all(r["commit"] and r["measured_at"] for r in kept["runs"])


def test_the_table_shows_each_figure_beside_the_one_before_and_their_ratio() -> None:
    kept = chat_tokens.record(KEPT, _run(3, 2000))
    lines = chat_tokens.table_lines(kept)
    assert "| List the tables in my base | list_tables | 2,000 | 6,000 | 0.33 |" in lines
    kept = chat_tokens.record(kept, _run(50, 2000))  # nothing measured before on this base
    assert "| List the tables in my base | list_tables | 2,000 | - | - |" in chat_tokens.table_lines(kept)


def test_the_terminal_view_fits_80_columns() -> None:
    run = _run(103, 12345)
    run["chats"].append({**run["chats"][0], "question": "x" * 70})
    text = chat_tokens.render_terminal(run, KEPT)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "12,345" in text


def test_the_kept_figures_meet_issue_16s_goal_on_the_grown_base() -> None:
    # The kept run is what docs/performance-baselines.md shows; the goal is a third of before.
    kept = json.loads((ROOT / chat_tokens.JSON_PATH).read_text())
    grown = next(r for r in kept["runs"] if r["tables"] > 100)
    before = {
        c["question"]: c["input_tokens"]
        for c in next(b for b in kept["before"] if b["tables"] > 100)["chats"]
    }
    for chat in grown["chats"]:
        if chat["question"] in before:
            assert chat["input_tokens"] * 3 <= before[chat["question"]], chat
    assert chat_tokens.markdown_section(ROOT)[0] == "## Input tokens per chat"
