"""airscope.local.silences and `airscope silence`: amtool's matcher syntax, the refusals that name
their fix, and add/list/expire against a real Alertmanager (Debian's binary)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from airscope import checkout
from airscope.cli import main
from airscope.cli.silence import silence as silence_group
from airscope.errors import AirscopeError
from airscope.local import alertmanager_api, silences
from airscope.promapi import Alertmanager, Matcher, Silence
from tests.support import free_port, wait_until


@pytest.mark.parametrize(
    ("text", "matcher"),
    [
        ("alertname=HighLatency", Matcher("alertname", "HighLatency")),
        ("service!=frontend", Matcher("service", "frontend", is_equal=False)),
        ("severity=~warning|critical", Matcher("severity", "warning|critical", is_regex=True)),
        ("instance!~127.0.0.1:.*", Matcher("instance", "127.0.0.1:.*", is_regex=True, is_equal=False)),
        ('comment="two words, a comma"', Matcher("comment", "two words, a comma")),
        ('severity=~"warning|critical"', Matcher("severity", "warning|critical", is_regex=True)),
        ("empty=", Matcher("empty", "")),
        ("eq==x", Matcher("eq", "=x")),  # only the first operator counts, as amtool reads it
    ],
)
def test_matchers_read_as_amtool_writes_them_and_print_back_the_same(text, matcher):
    assert silences.parse_matcher(text) == matcher
    assert silences.parse_matcher(silences.format_matcher(matcher)) == matcher


def test_a_matcher_prints_quoted_only_when_more_than_a_word():
    assert silences.format_matcher(Matcher("service", "llm-orchestrator")) == "service=llm-orchestrator"
    assert (
        silences.format_matcher(Matcher("severity", "warning|critical", is_regex=True))
        == 'severity=~"warning|critical"'
    )
    assert silences.format_matcher(Matcher("team", "", is_equal=False)) == 'team!=""'


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alertname", "is not a matcher. A matcher is name=value"),
        ("alert name=X", "is not a matcher"),
        ("1abel=x", "is not a matcher"),
        ("=x", "is not a matcher"),
        ('a="open', None),  # a lone quote is part of the value, as in amtool
        ('a="bad \\q"', "the quoted value is not closed properly"),
        ("a=~(", "is not a regular expression"),
    ],
)
def test_a_malformed_matcher_names_the_grammar(text, says):
    if says is None:
        assert silences.parse_matcher(text) == Matcher("a", '"open')
        return
    with pytest.raises(ValueError, match=says):
        silences.parse_matcher(text)


HIGH_LATENCY = (Matcher("alertname", "HighLatency"), Matcher("service", "llm-orchestrator"))


@pytest.mark.parametrize(
    ("matchers", "duration", "comment", "author", "fix"),
    [
        ((), 3600, "why", "me", "at least one matcher"),
        ((Matcher("team", "web", is_equal=False),), 3600, "why", "me", "would silence every alert"),
        ((Matcher("alertname", ".*", is_regex=True),), 3600, "why", "me", "would silence every alert"),
        (HIGH_LATENCY, 0, "why", "me", "--duration must be more than 0, e.g. --duration 2h"),
        (HIGH_LATENCY, 3600, "  ", "me", 'a silence needs a comment saying why: --comment "'),
        (HIGH_LATENCY, 3600, "why", "", "--author NAME"),
    ],
)
def test_a_silence_that_would_be_refused_or_mean_nothing_names_the_fix(
    matchers, duration, comment, author, fix
):
    def nothing_posted(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"{request.method} {request.url} was sent")

    client = Alertmanager("http://am.test", transport=httpx.MockTransport(nothing_posted))
    with pytest.raises(AirscopeError, match=fix.replace("(", r"\(")):
        silences.add(client, matchers, duration, comment, author)


def test_a_silence_is_posted_with_its_matchers_times_author_and_comment():
    posted = []

    def alertmanager(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200, json={"silenceID": "abc"})

    client = Alertmanager("http://am.test", transport=httpx.MockTransport(alertmanager))
    assert silences.add(client, HIGH_LATENCY, 7200, " inc-1: slow ", "ann") == "abc"
    [body] = posted
    assert body["matchers"] == [m.as_api() for m in HIGH_LATENCY]
    assert (body["createdBy"], body["comment"]) == ("ann", "inc-1: slow")
    lasts = datetime.fromisoformat(body["endsAt"]) - datetime.fromisoformat(body["startsAt"])
    assert lasts.total_seconds() == pytest.approx(7200, abs=1)


def _silence(state: str, ends: str, silence_id: str = "s") -> Silence:
    return Silence(silence_id, HIGH_LATENCY, state, "2026-03-01T10:00:00Z", ends, "ann", "inc-1")


def test_the_listing_shows_id_matchers_end_author_and_comment():
    now = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    shown = silences.render([_silence("active", "2026-03-01T12:00:00.000Z", "id-1")], now=now)
    assert shown.splitlines() == [
        "id-1  active  ends 2026-03-01 12:00 UTC (in 2h)  by ann",
        "  matchers: alertname=HighLatency service=llm-orchestrator",
        "  comment:  inc-1",
    ]
    assert "--all" in silences.render([])


def test_expiring_reports_each_id_and_goes_on_after_a_refusal():
    def alertmanager(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json="silence not found")
        return httpx.Response(200)

    client = Alertmanager("http://am.test", transport=httpx.MockTransport(alertmanager))
    assert silences.expire(client, ["gone", "kept"]) == {"gone": "silence not found", "kept": None}


def test_an_unreachable_alertmanager_names_the_url_and_the_setting(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(alertmanager_api.URL_ENV, url)
    result = CliRunner().invoke(main, ["silence", "list"])
    assert result.exit_code == 1
    assert url in result.output
    assert "--alertmanager-url URL or $AIRSCOPE_ALERTMANAGER_URL" in result.output


def test_the_default_alertmanager_is_the_setting_else_the_local_one(monkeypatch):
    monkeypatch.delenv(alertmanager_api.URL_ENV, raising=False)
    monkeypatch.setenv("AIRSCOPE_PORT_ALERTMANAGER", "19093")
    assert alertmanager_api.default_url() == "http://127.0.0.1:19093"
    monkeypatch.setenv(alertmanager_api.URL_ENV, "https://alertmanager.example.com")
    assert alertmanager_api.default_url() == "https://alertmanager.example.com"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add", "alertname", "--duration", "1h", "--comment", "x"], "is not a matcher"),
        (["add", "alertname=X", "--duration", "0", "--comment", "x"], "must be more than 0"),
        (["add", "alertname=X", "--duration", "1h"], "a silence needs a comment saying why"),
        (["expire"], "Missing argument 'ID...'"),
    ],
)
def test_bad_input_is_refused_before_any_alertmanager_is_asked(monkeypatch, args, says):
    monkeypatch.setenv(alertmanager_api.URL_ENV, "http://127.0.0.1:1")
    result = CliRunner().invoke(main, ["silence", *args])
    assert result.exit_code != 0
    assert says in result.output
    assert "127.0.0.1:1" not in result.output


# -- against a real Alertmanager ------------------------------------------------------------------


@pytest.fixture(scope="module")
def alertmanager_url(tmp_path_factory) -> Iterator[str]:
    if not shutil.which("prometheus-alertmanager"):
        pytest.skip("Debian's prometheus-alertmanager is not installed")
    tmp: Path = tmp_path_factory.mktemp("silences")
    port = free_port()
    (tmp / "am.yml").write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    with (tmp / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={tmp / 'am.yml'}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(Alertmanager(url).ready, 30, message="Alertmanager ready")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _silence_cli(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["silence", *args, "--alertmanager-url", url])
    return result.exit_code, result.stdout, result.stderr


def test_add_list_and_expire_against_alertmanager(alertmanager_url, monkeypatch):
    monkeypatch.setenv("USER", "oncall-ann")
    code, out, _ = _silence_cli(
        alertmanager_url,
        "add",
        "alertname=HighLatency",
        "service=llm-orchestrator",
        'severity=~"warning|critical"',
        "--duration",
        "1h",
        "--comment",
        "inc-1: provider slow",
    )
    assert code == 0
    silence_id = out.strip()

    code, out, _ = _silence_cli(alertmanager_url, "list", "--json")
    [listed] = [s for s in json.loads(out) if s["id"] == silence_id]
    assert listed["state"] == "active"
    assert listed["matchers"] == [
        "alertname=HighLatency",
        "service=llm-orchestrator",
        'severity=~"warning|critical"',
    ]
    assert (listed["author"], listed["comment"]) == ("oncall-ann", "inc-1: provider slow")
    lasts = datetime.fromisoformat(listed["ends_at"]) - datetime.fromisoformat(listed["starts_at"])
    assert lasts.total_seconds() == pytest.approx(3600, abs=2)
    code, out, _ = _silence_cli(alertmanager_url, "list")
    assert silence_id in out and "inc-1: provider slow" in out

    missing = "00000000-0000-0000-0000-000000000000"
    code, out, err = _silence_cli(alertmanager_url, "expire", silence_id, missing)
    assert code == 1
    assert out == f"expired {silence_id}\n"
    assert f"cannot expire {missing}: silence not found" in err

    code, out, _ = _silence_cli(alertmanager_url, "list", "--json")
    assert silence_id not in {s["id"] for s in json.loads(out)}
    code, out, _ = _silence_cli(alertmanager_url, "list", "--all", "--json")
    assert [s["state"] for s in json.loads(out) if s["id"] == silence_id] == ["expired"]


def test_the_author_is_the_flag_else_user(alertmanager_url, monkeypatch):
    monkeypatch.setenv("USER", "oncall-bob")
    _, first, _ = _silence_cli(alertmanager_url, "add", "alertname=A", "--duration", "5m", "--comment", "c")
    _, second, _ = _silence_cli(
        alertmanager_url, "add", "alertname=B", "--duration", "5m", "--comment", "c", "--author", "carol"
    )
    with Alertmanager(alertmanager_url) as client:
        authors = {s.id: s.created_by for s in client.silences()}
        for silence_id in (first.strip(), second.strip()):
            client.expire_silence(silence_id)
    assert (authors[first.strip()], authors[second.strip()]) == ("oncall-bob", "carol")


@pytest.mark.parametrize("page", ["docs/on-call.md", "docs/procedures/incident.md"])
def test_the_docs_silence_commands_parse(page):
    """Every `airscope silence` line the on-call pages give is one the command takes (matchers,
    duration, options), checked without asking any Alertmanager."""
    lines = [
        line.split(" #")[0]
        for line in (checkout.root() / page).read_text().splitlines()
        if line.startswith(".venv/bin/airscope silence ")
    ]
    assert lines, f"{page} gives no `airscope silence` command"
    for line in lines:
        name, *args = shlex.split(line)[2:]
        command = silence_group.get_command(click.Context(silence_group), name)
        assert command is not None, line
        with command.make_context(name, args):
            pass  # parsed: every matcher, duration and option is one the command takes
