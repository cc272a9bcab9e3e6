"""Blind training without a platform: which faults are picked, what is kept of them, how an answer
is judged, and what `airscope train answer|causes` say."""

from __future__ import annotations

import random
import stat

import pytest
from click.testing import CliRunner

from airscope.cli import main
from airscope.local import paths
from airscope.local.drills.scenarios import DEFAULT_SERVICE, scenarios
from airscope.local.drills.training import (
    HINTS,
    Pick,
    Session,
    TrainingError,
    answer,
    causes,
    choose,
    normalize,
    score,
    services,
)

SERVICES = services()
ALL = list(scenarios())


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    return tmp_path


def test_every_scenario_has_a_cause_in_the_closed_list_and_a_hint():
    known = causes(SERVICES)
    assert len(known) == len(set(known))
    for name in ALL:
        for service in SERVICES:
            assert Pick(name, service).cause in known
        assert name in HINTS
    assert Pick("service-down", "frontend").cause == "frontend down"
    assert Pick("memory", "mcp-server").cause == "memory leak in mcp-server"


def test_the_same_seed_picks_the_same_faults_and_seeds_differ():
    picked = [choose(random.Random(seed), ALL, SERVICES, 1) for seed in range(200)]
    assert picked[:20] == [choose(random.Random(seed), ALL, SERVICES, 1) for seed in range(20)]
    assert {picks[0].scenario for picks in picked} == set(ALL)
    down = {picks[0].service for picks in picked if picks[0].scenario == "service-down"}
    assert len(down) > 1 and down <= set(SERVICES)
    assert {picks[0].service for picks in picked if picks[0].scenario != "service-down"} == {DEFAULT_SERVICE}


def test_a_game_day_never_picks_two_faults_on_one_thing():
    for seed in range(200):
        picks = choose(random.Random(seed), ALL, SERVICES, 5, service="mcp-server")
        assert len(picks) == 5
        assert len({pick.touches for pick in picks}) == 5, picks
        assert not {"error-burst", "latency"} <= {pick.scenario for pick in picks}  # one Airtable switch
        assert not {"service-down", "memory"} <= {pick.scenario for pick in picks}


def test_more_faults_than_can_be_in_at_once_is_refused():
    with pytest.raises(TrainingError, match="only 1 of the faults error-burst, latency"):
        choose(random.Random(1), ["error-burst", "latency"], SERVICES, 2)


def test_the_session_is_kept_for_its_owner_only_and_read_back(home):
    session = Session(7, [Pick("redis-down"), Pick("service-down", "frontend")])
    session.save()
    path = home / "training" / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Session.load() == session


def test_without_a_session_answering_says_how_to_start_one():
    with pytest.raises(TrainingError, match="airscope train start"):
        Session.load()


def test_a_cause_is_read_in_any_case_and_spacing_and_must_be_known():
    known = causes(SERVICES)
    assert normalize(("Redis", " DOWN "), known) == "redis down"
    assert normalize(("memory leak in mcp-server",), known) == "memory leak in mcp-server"
    with pytest.raises(TrainingError, match="not a known cause"):
        normalize(("cosmic", "rays"), known)


def test_a_wrong_answer_hints_at_the_signal_of_the_fault_still_missing_and_a_right_one_counts():
    session = Session(1, [Pick("error-burst"), Pick("service-down", "frontend")])
    wrong = answer(session, "redis down")
    assert not wrong.right
    assert HINTS["error-burst"] in wrong.text
    assert "airtable" not in wrong.text.split("hint:")[0]

    first = answer(session, "airtable errors")
    assert first.right and "1 more fault(s) to find" in first.text
    assert HINTS["service-down"] in answer(session, "mcp-server down").text
    last = answer(session, "frontend down")
    assert last.right and "every fault" in last.text
    assert answer(session, "frontend down").text.startswith("right, and already found")
    assert [(a["cause"], a["right"]) for a in session.answers] == [
        ("redis down", False),
        ("airtable errors", True),
        ("mcp-server down", False),
        ("frontend down", True),
    ]


def test_the_score_names_each_fault_when_it_was_found_and_the_wrong_answers():
    session = Session(3, [Pick("redis-down"), Pick("latency")], started_at="2026-11-29T10:00:00+00:00")
    session.answers = [
        {"at": "2026-11-29T10:01:00+00:00", "cause": "postgres down", "right": False},
        {"at": "2026-11-29T10:02:05+00:00", "cause": "redis down", "right": True},
    ]
    text = score(session, "2026-11-29T10:10:00+00:00")
    assert "after 10m00s (seed 3)" in text
    assert "redis down" in text and "found after 2m05s" in text
    assert "airtable slow" in text and "NOT found" in text
    assert "wrong answers: postgres down" in text


def test_the_answer_command_exits_1_on_a_wrong_cause_and_0_on_the_right_one(home):
    Session(5, [Pick("postgres-down")]).save()
    runner = CliRunner()
    wrong = runner.invoke(main, ["train", "answer", "redis", "down"])
    assert wrong.exit_code == 1 and "wrong" in wrong.output and "hint:" in wrong.output
    unknown = runner.invoke(main, ["train", "answer", "gremlins"])
    assert unknown.exit_code == 1 and "not a known cause" in unknown.output
    right = runner.invoke(main, ["train", "answer", "Postgres down"])
    assert right.exit_code == 0 and right.output.startswith("right: postgres down")
    assert [a["right"] for a in Session.load().answers] == [False, True]


def test_the_causes_command_lists_the_closed_list():
    result = CliRunner().invoke(main, ["train", "causes"])
    assert result.exit_code == 0
    assert result.output.splitlines() == causes(SERVICES)
