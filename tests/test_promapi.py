"""airscope.promapi against a real Prometheus and Alertmanager (Debian's binaries), plus the failures
and the NaN rule on canned answers."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airscope.promapi import Alertmanager, Matcher, PromAPIError, Prometheus
from tests.support import free_port, wait_until

RULES = """
groups:
  - name: test
    interval: 1s
    rules:
      - record: test:nan
        expr: vector(0) / 0
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: warning, service: test}
        annotations: {summary: it always fires}
"""


def _start(command: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[tuple[Prometheus, Alertmanager]]:
    if not (shutil.which("prometheus") and shutil.which("prometheus-alertmanager")):
        pytest.skip("Debian's prometheus and prometheus-alertmanager are not installed")
    tmp = tmp_path_factory.mktemp("promapi")
    prom_port, am_port = free_port(), free_port()
    (tmp / "am.yml").write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    (tmp / "rules.yml").write_text(RULES)
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]}}]}}\n"
        f"scrape_configs: [{{job_name: self, static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]}}]\n"
    )
    processes = [
        _start(
            [
                "prometheus-alertmanager",
                f"--config.file={tmp / 'am.yml'}",
                f"--storage.path={tmp / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp / "alertmanager.log",
        ),
        _start(
            [
                "prometheus",
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=1s",
            ],
            tmp / "prometheus.log",
        ),
    ]
    prometheus = Prometheus(f"http://127.0.0.1:{prom_port}")
    alertmanager = Alertmanager(f"http://127.0.0.1:{am_port}/")
    try:
        wait_until(prometheus.ready, 30, message="Prometheus ready")
        wait_until(alertmanager.ready, 30, message="Alertmanager ready")
        yield prometheus, alertmanager
    finally:
        prometheus.close()
        alertmanager.close()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def test_instant_query_value_and_the_nan_rule(servers):
    prometheus, _ = servers
    samples = prometheus.query('label_replace(vector(2), "service", "a", "", "")')
    assert [(dict(s.labels), s.value) for s in samples] == [({"service": "a"}, 2.0)]
    assert prometheus.value("vector(3)") == 3.0
    assert prometheus.value("scalar(vector(4))") == 4.0  # a scalar answer reads as one sample
    assert prometheus.value("vector(0) / 0") is None  # NaN means no value
    assert prometheus.value("absent(vector(1))") is None  # no sample
    assert prometheus.values_by('label_replace(vector(0) / 0, "service", "a", "", "")', "service") == {}
    at = time.time() - 1
    assert prometheus.query("vector(1)", time=at)[0].time == pytest.approx(at, abs=0.01)


def test_range_query_targets_rules_and_alerts(servers):
    prometheus, _ = servers
    wait_until(lambda: prometheus.value('up{job="self"}') == 1.0, 30, message="Prometheus scrapes itself")
    targets = prometheus.targets()
    assert [(t.labels["job"], t.health) for t in targets] == [("self", "up")]
    now = time.time()
    series = prometheus.query_range('up{job="self"}', now - 5, now, 1)
    assert len(series) == 1 and series[0].labels["job"] == "self"
    assert all(value in (1.0, None) for _, value in series[0].points)
    assert [rule["name"] for rule in prometheus.rules("alert")[0]["rules"]] == ["AlwaysFiring"]
    assert {rule["name"] for group in prometheus.rules() for rule in group["rules"]} == {
        "test:nan",
        "AlwaysFiring",
    }
    alerts = wait_until(prometheus.alerts, 30, message="AlwaysFiring pending or firing")
    assert alerts[0].labels["alertname"] == "AlwaysFiring" and alerts[0].state in ("pending", "firing")
    assert alerts[0].annotations == {"summary": "it always fires"}
    assert alerts[0].value == 1.0  # the rule's expression value, which the console shows


def test_alertmanager_alerts_and_silences(servers):
    _, alertmanager = servers
    firing = wait_until(alertmanager.alerts, 30, message="AlwaysFiring reaches Alertmanager")
    assert firing[0].labels["alertname"] == "AlwaysFiring" and firing[0].state == "active"
    assert firing[0].since
    silence = alertmanager.create_silence({"alertname": "AlwaysFiring"}, 600, comment="test")
    try:
        found = [s for s in alertmanager.silences() if s.id == silence]
        assert [(dict(s.matchers), s.state, s.comment) for s in found] == [
            ({"alertname": "AlwaysFiring"}, "active", "test")
        ]
        wait_until(
            lambda: alertmanager.alerts(silenced=False) == [] and alertmanager.alerts(),
            30,
            message="the silenced alert is left out only when asked",
        )
    finally:
        alertmanager.expire_silence(silence)
    assert [s.state for s in alertmanager.silences() if s.id == silence] == ["expired"]


def test_silences_with_regex_and_negative_matchers_and_who_they_mute(servers):
    _, alertmanager = servers
    wait_until(alertmanager.alerts, 30, message="AlwaysFiring reaches Alertmanager")
    matchers = [Matcher("alertname", "Always.*", is_regex=True), Matcher("service", "other", is_equal=False)]
    silence = alertmanager.create_silence(matchers, 600, created_by="me", comment="regex")
    try:
        [found] = [s for s in alertmanager.silences() if s.id == silence]
        assert found.matcher_list == tuple(matchers)
        assert found.matchers == {"alertname": "=~Always.*", "service": "!=other"}
        assert (found.created_by, found.comment) == ("me", "regex")
        muted = wait_until(
            lambda: [a for a in alertmanager.alerts() if silence in a.silenced_by],
            30,
            message="the alert muted by the regex silence",
        )
        assert muted[0].labels["alertname"] == "AlwaysFiring" and muted[0].silenced_by == (silence,)
        assert muted[0].state == "suppressed"
    finally:
        alertmanager.expire_silence(silence)


def test_a_refused_query_names_the_url_and_prometheus_reason(servers):
    prometheus, _ = servers
    with pytest.raises(
        PromAPIError, match=rf"Prometheus at {prometheus.url}/api/v1/query: HTTP 400: .*parse"
    ):
        prometheus.query("sum(")
    with pytest.raises(PromAPIError, match="gives a matrix, not a vector"):
        prometheus.query("up[1m]")


def test_no_answer_names_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with (
        Prometheus(url, timeout=1) as prometheus,
        pytest.raises(PromAPIError, match=f"Prometheus at {url}.*no answer"),
    ):
        prometheus.query("up")
    assert not Alertmanager(url, timeout=1).ready()


def _canned(status: int, body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body))


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (200, b"<html>proxy</html>", "answer is not JSON"),
        (200, b'{"status": "error", "error": "boom"}', "not a successful API answer"),
        (503, b"Service Unavailable", "HTTP 503: Service Unavailable"),
        (
            422,
            b'{"status": "error", "errorType": "execution", "error": "too many samples"}',
            "HTTP 422: too many samples",
        ),
    ],
)
def test_every_bad_answer_is_one_error(status: int, body: bytes, cause: str):
    prometheus = Prometheus("http://prometheus.invalid", transport=_canned(status, body))
    with pytest.raises(PromAPIError, match=f"Prometheus at http://prometheus.invalid/api/v1/query: {cause}"):
        prometheus.query("up")


def test_nan_and_infinities_in_canned_vectors():
    body = (
        b'{"status": "success", "data": {"resultType": "vector", "result": ['
        b'{"metric": {"i": "a"}, "value": [1, "NaN"]}, {"metric": {"i": "b"}, "value": [1, "+Inf"]},'
        b'{"metric": {"i": "c"}, "value": [1, "0.5"]}]}}'
    )
    prometheus = Prometheus("http://p.invalid", transport=_canned(200, body))
    assert [s.value for s in prometheus.query("x")] == [None, float("inf"), 0.5]
    assert prometheus.values_by("x", "i") == {"b": float("inf"), "c": 0.5}
    assert prometheus.value("x") is None


def test_a_refused_query_carries_prometheus_own_words(servers):
    prometheus, _ = servers
    with pytest.raises(PromAPIError) as caught:
        prometheus.query("sum(")
    assert caught.value.status == 400 and caught.value.error_type == "bad_data"
    assert caught.value.refused_query and caught.value.answered
    assert "parse error" in caught.value.detail and prometheus.url not in caught.value.detail


def test_label_values_and_exemplars_of_a_real_prometheus(servers):
    prometheus, _ = servers
    wait_until(lambda: prometheus.value('up{job="self"}') == 1.0, 30, message="Prometheus scrapes itself")
    assert "self" in prometheus.label_values("job")
    assert prometheus.label_values("job", 'up{job="self"}') == ["self"]
    now = time.time()
    assert prometheus.query_exemplars('up{job="self"}', now - 60, now) == []  # no exemplar storage: none


def test_no_answer_is_not_answered():
    with (
        Prometheus(f"http://127.0.0.1:{free_port()}", timeout=1) as prometheus,
        pytest.raises(PromAPIError) as caught,
    ):
        prometheus.query("up")
    assert not caught.value.answered and not caught.value.refused_query and caught.value.status is None


def test_exemplars_and_label_values_on_canned_answers():
    body = (
        b'{"status": "success", "data": [{"seriesLabels": {"__name__": "h_bucket", "le": "1"}, "exemplars": ['
        b'{"labels": {"trace_id": "b"}, "value": "0.5", "timestamp": 20.5},'
        b'{"labels": {"trace_id": "a"}, "value": "NaN", "timestamp": 10}]}]}'
    )
    prometheus = Prometheus("http://p.invalid", transport=_canned(200, body))
    found = prometheus.query_exemplars("h_bucket", 0, 30)
    assert [(e.labels["trace_id"], e.value, e.time, e.series_labels["le"]) for e in found] == [
        ("a", None, 10.0, "1"),
        ("b", 0.5, 20.5, "1"),
    ]
    values = Prometheus(
        "http://p.invalid", transport=_canned(200, b'{"status": "success", "data": ["b", "a"]}')
    )
    assert values.label_values("job") == ["a", "b"]


def test_posted_alerts_are_held_and_resolved_by_an_end_in_the_past(servers):
    _, alertmanager = servers
    labels = {"alertname": "PostedByTest", "severity": "warning", "owner": "infra"}
    alertmanager.post_alerts([{"labels": labels, "annotations": {"summary": "posted"}}])
    try:
        [held] = wait_until(
            lambda: [a for a in alertmanager.alerts() if a.labels["alertname"] == "PostedByTest"],
            30,
            message="the posted alert is held",
        )
        assert dict(held.labels) == labels and held.annotations == {"summary": "posted"}
    finally:
        alertmanager.post_alerts([{"labels": labels, "endsAt": "2000-01-01T00:00:00Z"}])
    wait_until(
        lambda: not [a for a in alertmanager.alerts() if a.labels["alertname"] == "PostedByTest"],
        30,
        message="the alert ended in the past is resolved",
    )


def test_a_refused_alert_names_alertmanager_reason():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": 400, "message": "labels: empty"}, request=request)

    alertmanager = Alertmanager("http://am.test", transport=httpx.MockTransport(refuse))
    with pytest.raises(
        PromAPIError, match=r"Alertmanager at http://am.test/api/v2/alerts: HTTP 400: labels: empty$"
    ):
        alertmanager.post_alerts([{"labels": {}}])
