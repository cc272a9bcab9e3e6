"""The one client of the Prometheus and Alertmanager HTTP APIs (over httpx).

Every failure (no answer, an HTTP error, a refused query, an answer that is not the API's JSON)
is a ``PromAPIError`` whose message names the URL and the cause. One NaN rule: a NaN sample value
(``rate()`` over no requests, a quantile of nothing) reads as ``None``, never as a float.
``prometheus-api-client`` would do the same but drags in pandas and matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from airscope.errors import AirscopeError

DEFAULT_TIMEOUT = 5.0
TENANT_HEADER = "X-Scope-OrgID"  # Mimir's (and Loki's, Tempo's): which tenant's data a request reads


class PromAPIError(AirscopeError):
    """Prometheus or Alertmanager did not answer as its API says; the message names the URL and why.

    ``status`` is the HTTP status (None when nothing answered), ``error_type`` and ``detail`` the API's own
    ``errorType`` and ``error`` (``bad_data`` and ``1:5: parse error: ...`` for a PromQL mistake), so a
    caller can show the server's words alone, as Grafana does."""

    def __init__(
        self, message: str, *, status: int | None = None, error_type: str = "", detail: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.detail = detail

    @property
    def answered(self) -> bool:
        """False when the server could not be reached at all (down, refused, timed out)."""
        return self.status is not None

    @property
    def refused_query(self) -> bool:
        """True when the server refused the query itself (bad PromQL, a bad parameter): the user's to fix."""
        return self.status in (400, 422) and self.error_type in ("bad_data", "execution", "")


def _number(text: str) -> float | None:
    """The one NaN rule: Prometheus' "NaN" means no value."""
    value = float(text)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class Sample:
    """One series of an instant query: its labels, the value (None for NaN) and its timestamp."""

    labels: Mapping[str, str]
    value: float | None
    time: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: (timestamp, value or None for NaN) points in time order."""

    labels: Mapping[str, str]
    points: list[tuple[float, float | None]]


@dataclass(frozen=True)
class Exemplar:
    """One exemplar: the labels of the series it belongs to, its own labels (``trace_id``), value, time."""

    series_labels: Mapping[str, str]
    labels: Mapping[str, str]
    value: float | None
    time: float


@dataclass(frozen=True)
class Target:
    labels: Mapping[str, str]
    health: str  # up | down | unknown
    scrape_url: str
    last_error: str


@dataclass(frozen=True)
class Alert:
    """An alert as Prometheus evaluates it or as Alertmanager holds it."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str  # Prometheus: pending | firing; Alertmanager: active | suppressed | unprocessed
    since: str | None  # Prometheus' activeAt, Alertmanager's startsAt (RFC 3339)
    value: float | None = None  # Prometheus only: the rule expression's value (None for NaN)
    silenced_by: tuple[str, ...] = ()  # Alertmanager only: the ids of the silences muting it


@dataclass(frozen=True)
class Matcher:
    """One matcher of a silence, as Alertmanager's API holds it: ``name`` ``=``, ``!=``, ``=~`` or ``!~``
    ``value``."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def as_api(self) -> dict[str, Any]:
        """The matcher as the API writes it (what a silence is posted with)."""
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}


@dataclass(frozen=True)
class Silence:
    id: str
    matcher_list: tuple[Matcher, ...]  # every matcher, regex and negative ones included
    state: str  # active | pending | expired
    starts_at: str
    ends_at: str
    created_by: str
    comment: str

    @property
    def matchers(self) -> Mapping[str, str]:
        """Name -> value, for a script that looks up one label: an equality matcher's value as is, any
        other's with its operator in front ("=~", "!=", "!~")."""
        return {m.name: _matcher_value(m) for m in self.matcher_list}


class _API:
    """An HTTP client of one server: JSON in, PromAPIError on any failure."""

    name = "server"

    def __init__(
        self,
        url: str,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``headers`` go with every request: Mimir's tenant (``X-Scope-OrgID``), a proxy's token."""
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport, headers=headers)

    def __enter__(self):
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _fail(self, path: str, cause: object, **details: Any) -> PromAPIError:
        return PromAPIError(f"{self.name} at {self.url}{path}: {cause}", **details)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._fail(path, f"no answer ({exc.__class__.__name__}: {exc})") from exc
        try:
            body = answer.json() if answer.content else None
        except ValueError:
            body = None
        if answer.is_error:
            # Prometheus says {"error": ...}; Alertmanager's v2 API {"message": ...} or a bare JSON string.
            detail = (body.get("error") or body.get("message")) if isinstance(body, dict) else body
            error_type = body.get("errorType") if isinstance(body, dict) else None
            text = str(detail or answer.text.strip()[:300])
            raise self._fail(
                path,
                f"HTTP {answer.status_code}: {text}",
                status=answer.status_code,
                error_type=str(error_type or ""),
                detail=text,
            )
        if body is None and answer.content:
            raise self._fail(
                path, f"answer is not JSON: {answer.text.strip()[:300]!r}", status=answer.status_code
            )
        return body

    def ready(self) -> bool:
        """True when /-/ready answers 200 (the server has loaded its configuration and data)."""
        try:
            return self._client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False


class Prometheus(_API):
    name = "Prometheus"

    def _data(self, path: str, params: Mapping[str, object] | None = None) -> Any:
        body = self._call("GET", path, params=params)
        if not isinstance(body, dict) or body.get("status") != "success" or "data" not in body:
            raise self._fail(path, f"not a successful API answer: {str(body)[:300]}", status=200)
        return body["data"]

    def _result(self, path: str, params: dict[str, object], kind: str) -> list[dict]:
        data = self._data(path, params)
        if data.get("resultType") not in kind:
            raise self._fail(
                path, f"{params['query']!r} gives a {data.get('resultType')}, not a {kind}", status=200
            )
        result = data["result"]
        # A scalar or string answer is one [time, value] pair: read it as one sample without labels.
        return [{"metric": {}, "value": result}] if data["resultType"] in ("scalar", "string") else result

    def query(self, expr: str, time: float | None = None) -> list[Sample]:
        """The instant vector (or scalar, as one sample without labels) ``expr`` gives, now or at ``time``."""
        params: dict[str, object] = {"query": expr}
        if time is not None:
            params["time"] = time
        result = self._result("/api/v1/query", params, "vector scalar")
        return [Sample(r["metric"], _number(r["value"][1]), float(r["value"][0])) for r in result]

    def value(self, expr: str, time: float | None = None) -> float | None:
        """The first sample's value; None when there is no sample or it is NaN."""
        samples = self.query(expr, time)
        return samples[0].value if samples else None

    def values_by(self, expr: str, label: str, time: float | None = None) -> dict[str, float]:
        """``label``'s value -> sample value, leaving out NaN samples (no value)."""
        return {s.labels.get(label, ""): s.value for s in self.query(expr, time) if s.value is not None}

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        params: dict[str, object] = {"query": expr, "start": start, "end": end, "step": step}
        result = self._result("/api/v1/query_range", params, "matrix")
        return [Series(r["metric"], [(float(t), _number(v)) for t, v in r["values"]]) for r in result]

    def query_exemplars(self, expr: str, start: float, end: float) -> list[Exemplar]:
        """The exemplars (trace ids beside histogram samples) the series of ``expr`` hold between
        ``start`` and ``end``, oldest first; [] when the series have none."""
        params: dict[str, object] = {"query": expr, "start": start, "end": end}
        found = [
            Exemplar(
                series["seriesLabels"],
                exemplar.get("labels", {}),
                _number(exemplar["value"]),
                float(exemplar["timestamp"]),
            )
            for series in self._data("/api/v1/query_exemplars", params) or []
            for exemplar in series.get("exemplars") or []
        ]
        return sorted(found, key=lambda e: e.time)

    def label_values(
        self, label: str, match: str | None = None, start: float | None = None, end: float | None = None
    ) -> list[str]:
        """The values ``label`` takes (in series matching ``match`` when given), sorted."""
        params: dict[str, object] = {}
        if match:
            params["match[]"] = match
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        return sorted(self._data(f"/api/v1/label/{label}/values", params) or [])

    def targets(self, state: str = "active") -> list[Target]:
        data = self._data("/api/v1/targets", {"state": state})
        return [
            Target(t["labels"], t["health"], t.get("scrapeUrl", ""), t.get("lastError", ""))
            for t in data.get("activeTargets", []) + (data.get("droppedTargets") or [])
            if "labels" in t
        ]

    def rules(self, kind: str | None = None) -> list[dict]:
        """The rule groups as the API gives them (``kind``: "alert" or "record" filters)."""
        return self._data("/api/v1/rules", {"type": kind} if kind else None)["groups"]

    def alerts(self) -> list[Alert]:
        """Every alert Prometheus evaluates as pending or firing."""
        return [
            Alert(
                a["labels"],
                a.get("annotations", {}),
                a["state"],
                a.get("activeAt"),
                _number(a["value"]) if a.get("value") is not None else None,
            )
            for a in self._data("/api/v1/alerts")["alerts"]
        ]


class Alertmanager(_API):
    name = "Alertmanager"

    def _list(self, path: str, what: str, params: Mapping[str, str] | None = None) -> list[dict]:
        body = self._call("GET", path, params=params)
        if not isinstance(body, list):
            raise self._fail(path, f"not a list of {what}: {str(body)[:300]}", status=200)
        return body

    def alerts(self, active: bool = True, silenced: bool = True, inhibited: bool = True) -> list[Alert]:
        """The alerts Alertmanager holds; by default every active one, silenced and inhibited ones included."""
        params = {"active": _flag(active), "silenced": _flag(silenced), "inhibited": _flag(inhibited)}
        return [
            Alert(
                a["labels"],
                a.get("annotations", {}),
                a.get("status", {}).get("state", ""),
                a.get("startsAt"),
                silenced_by=tuple(a.get("status", {}).get("silencedBy") or ()),
            )
            for a in self._list("/api/v2/alerts", "alerts", params)
        ]

    def silences(self) -> list[Silence]:
        return [
            Silence(
                s["id"],
                tuple(
                    Matcher(m["name"], m["value"], m.get("isRegex", False), m.get("isEqual", True))
                    for m in s["matchers"]
                ),
                s["status"]["state"],
                s["startsAt"],
                s["endsAt"],
                s.get("createdBy", ""),
                s.get("comment", ""),
            )
            for s in self._list("/api/v2/silences", "silences")
        ]

    def create_silence(
        self,
        matchers: Mapping[str, str] | Sequence[Matcher],
        duration: float,
        created_by: str = "airscope",
        comment: str = "",
    ) -> str:
        """Silences the alerts ``matchers`` match for ``duration`` seconds from now; its id. A mapping is
        equality matchers (name -> value), the common case of a script."""
        if isinstance(matchers, Mapping):
            matchers = [Matcher(name, value) for name, value in matchers.items()]
        now = datetime.now(UTC)
        body = self._call(
            "POST",
            "/api/v2/silences",
            json={
                "matchers": [m.as_api() for m in matchers],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(seconds=duration)).isoformat(),
                "createdBy": created_by,
                "comment": comment or "silenced by airscope",
            },
        )
        return body["silenceID"]

    def expire_silence(self, silence_id: str) -> None:
        self._call("DELETE", f"/api/v2/silence/{silence_id}")

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Sends ``alerts`` as Prometheus does (``POST /api/v2/alerts``): each a mapping with ``labels``
        and optionally ``annotations``, ``startsAt``, ``endsAt`` (RFC 3339) and ``generatorURL``.
        Alertmanager routes them like any other; one without ``endsAt`` resolves itself after its
        ``resolve_timeout``, and the same labels posted with ``endsAt`` in the past resolve it now."""
        self._call("POST", "/api/v2/alerts", json=[dict(alert) for alert in alerts])


def _flag(on: bool) -> str:
    return "true" if on else "false"


def _matcher_value(matcher: Matcher) -> str:
    """An equality matcher's value as is; any other with its operator in front ("=~", "!=", "!~")."""
    if matcher.is_equal and not matcher.is_regex:
        return matcher.value
    return ("=" if matcher.is_equal else "!") + ("~" if matcher.is_regex else "=") + matcher.value
