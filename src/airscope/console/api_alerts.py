"""The console's alerting API: the alerts Prometheus evaluates, what the local receiver was notified,
Alertmanager's silences (reading is open; creating and expiring need the local API key) and the
runbooks of docs/runbooks rendered as HTML, their links to each other turned into console links.

Every backend call goes through ``airscope.promapi``; a backend that does not answer is a 503 (or,
for the alert list, an entry of ``errors`` beside what the other backends gave) naming it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from markdown_it import MarkdownIt
from markdown_it.token import Token

from airscope import promapi, units
from airscope.errors import AirscopeError
from airscope.local import alert_receiver
from airscope.stack.settings import RUNBOOK_BASE_URL

router = APIRouter()

API_KEY_HEADER = "X-API-Key"
NOTIFICATIONS_SHOWN = 100  # the newest; the receiver's file keeps every one, `airscope alerts` reads them all
# Prometheus' label name grammar; Alertmanager refuses a matcher on anything else.
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_RUNBOOK_NAME = re.compile(r"[A-Za-z0-9_-]+")
# Console (and Grafana) page paths a runbook writes as code; they open the same view here.
_CONSOLE_PATH = re.compile(r"/(?:d/[\w-]+(?:/[\w-]+)?|explore|alerting/(?:list|silences))(?:\?\S*)?")
_SILENCE_ID = re.compile(r"[A-Za-z0-9-]+")
_STATE_ORDER = {"active": 0, "pending": 1, "expired": 2}


@dataclass
class Backends:
    prometheus: promapi.Prometheus
    alertmanager: promapi.Alertmanager


def backends(request: Request) -> Iterator[Backends]:
    """The clients of this request (a dependency: tests override it with clients over fake transports)."""
    config = request.app.state.config
    with (
        promapi.Prometheus(config.prometheus_url) as prometheus,
        promapi.Alertmanager(config.alertmanager_url) as alertmanager,
    ):
        yield Backends(prometheus, alertmanager)


Clients = Annotated[Backends, Depends(backends)]


def open_backends(
    prometheus_url: str, alertmanager_url: str, transport: httpx.BaseTransport | None = None
) -> Backends:
    """Clients of these servers over ``transport`` (the tests' fakes)."""
    return Backends(
        promapi.Prometheus(prometheus_url, transport=transport),
        promapi.Alertmanager(alertmanager_url, transport=transport),
    )


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _ms(rfc3339: str | None) -> int | None:
    """Epoch milliseconds of an RFC 3339 time (Go writes nanoseconds; Python reads at most micro)."""
    if not rfc3339:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", rfc3339)
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return None


# --- alerts and notifications ---------------------------------------------------------------


def _runbook_link(runbooks_dir: Path, name: str) -> str | None:
    if _RUNBOOK_NAME.fullmatch(name or "") and (runbooks_dir / f"{name}.md").is_file():
        return f"/runbooks/{name}"
    return None


def _silenced(labels: Mapping[str, str], silenced: list[Mapping[str, str]]) -> bool:
    # Alertmanager's copy carries Prometheus' external labels too: the alert's own labels are a subset.
    return any(all(held.get(k) == v for k, v in labels.items()) for held in silenced)


def _alerts(backends: Backends, runbooks_dir: Path, errors: list[str]) -> list[dict[str, Any]]:
    try:
        evaluated = backends.prometheus.alerts()
    except promapi.PromAPIError as exc:
        errors.append(f"no alerts: {exc}. Is the platform up (`make up`)?")
        return []
    try:
        silenced = [a.labels for a in backends.alertmanager.alerts() if a.silenced_by]
    except promapi.PromAPIError as exc:
        errors.append(f"cannot tell which alerts are silenced: {exc}")
        silenced = []
    out = []
    for alert in evaluated:
        name = alert.labels.get("alertname", "")
        out.append(
            {
                "name": name,
                "state": alert.state,
                "labels": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "activeAt": _ms(alert.since),
                "value": alert.value,
                "runbook": _runbook_link(runbooks_dir, name),
                "silenced": _silenced(alert.labels, silenced),
            }
        )
    # Firing before pending, then by name and labels: a stable order the page and tests can rely on.
    out.sort(key=lambda a: (a["state"] != "firing", a["name"], sorted(a["labels"].items())))
    return out


def _notifications(path: Path, errors: list[str]) -> list[dict[str, Any]]:
    try:
        kept = alert_receiver.read(path)
    except (OSError, ValueError) as exc:
        errors.append(f"cannot read the receiver's notifications in {path}: {exc}")
        return []
    out = []
    for line in reversed(kept[-NOTIFICATIONS_SHOWN:]):
        payload = line.get("notification") or {}
        out.append(
            {
                "receivedMs": _ms(line.get("received_at")),
                "receiver": line.get("receiver", ""),
                "status": payload.get("status", ""),
                "alerts": [
                    {
                        "name": a.get("labels", {}).get("alertname", ""),
                        "labels": a.get("labels", {}),
                        "status": a.get("status", ""),
                    }
                    for a in payload.get("alerts", [])
                ],
            }
        )
    return out


@router.get("/api/alerts")
def list_alerts(request: Request, clients: Clients) -> dict[str, Any]:
    config = request.app.state.config
    errors: list[str] = []
    alerts = _alerts(clients, config.runbooks_dir, errors)
    notifications = _notifications(config.notifications_file, errors)
    return {"alerts": alerts, "notifications": notifications, "errors": errors}


# --- silences ---------------------------------------------------------------------------------


def _silence_out(silence: promapi.Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": [m.as_api() for m in silence.matcher_list],
        "startsMs": _ms(silence.starts_at),
        "endsMs": _ms(silence.ends_at),
        "createdBy": silence.created_by,
        "comment": silence.comment,
        "state": silence.state,
    }


@router.get("/api/silences")
def list_silences(clients: Clients) -> Any:
    try:
        silences = clients.alertmanager.silences()
    except promapi.PromAPIError as exc:
        return _error(503, f"cannot list silences: {exc}. Is the platform up (`make up`)?")
    out = [_silence_out(s) for s in silences]
    # Active first, then pending, then expired; the newest first within each.
    out.sort(key=lambda s: (_STATE_ORDER.get(s["state"], 3), -(s["startsMs"] or 0)))
    return {"silences": out}


def _refused(request: Request) -> JSONResponse | None:
    """None when the request carries the local API key; else the 401 (or 503 when there is no key)."""
    config = request.app.state.config
    try:
        key = config.api_key()
    except AirscopeError as exc:
        return _error(503, f"this action needs the local API key, and the console has none: {exc}")
    given = request.headers.get(API_KEY_HEADER, "")
    # Constant time, so the key cannot be guessed a character at a time from answer times.
    if given and secrets.compare_digest(given.encode(), key.encode()):
        return None
    what = "a wrong" if given else "no"
    return _error(
        401,
        f"{what} API key: changing silences needs the local API key in the {API_KEY_HEADER} header (the page's "
        f'"API key" field); `make up` keeps it in {config.home / "api-key"}, or set $AIRSCOPE_API_KEY',
    )


def _matcher_problem(index: int, matcher: object) -> str | None:
    where = f"matcher {index + 1}"
    if not isinstance(matcher, dict):
        return f'{where} is not an object {{"name", "value", "isRegex", "isEqual"}}'
    name, value = matcher.get("name"), matcher.get("value")
    if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
        return f"{where}: {name!r} is not a label name (letters, digits and _, not starting with a digit)"
    if not isinstance(value, str):
        return f"{where} ({name}): the value must be a string"
    for flag in ("isRegex", "isEqual"):
        if not isinstance(matcher.get(flag, flag == "isEqual"), bool):
            return f"{where} ({name}): {flag} must be true or false"
    if matcher.get("isRegex", False):
        try:
            re.compile(value)
        except re.error as exc:
            return f"{where} ({name}): {value!r} is not a regular expression ({exc})"
    return None


def _matches_empty(matcher: promapi.Matcher) -> bool:
    """Whether the matcher matches an alert without the label (Alertmanager's empty-string rule)."""
    hit = re.fullmatch(matcher.value, "") is not None if matcher.is_regex else matcher.value == ""
    return hit if matcher.is_equal else not hit


def _silence_request(body: object) -> tuple[dict[str, Any] | None, str | None]:
    """The silence to make from the page's body, or why it cannot be made (a 400's message)."""
    if not isinstance(body, dict):
        return None, 'the body must be a JSON object {"matchers", "duration", "comment", "createdBy"}'
    matchers = body.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        return (
            None,
            "a silence needs at least one matcher (a label name and value, e.g. alertname = HighErrorRate)",
        )
    for index, matcher in enumerate(matchers):
        problem = _matcher_problem(index, matcher)
        if problem:
            return None, problem
    clean = [
        promapi.Matcher(m["name"], m["value"], m.get("isRegex", False), m.get("isEqual", True))
        for m in matchers
    ]
    if all(_matches_empty(m) for m in clean):
        return None, (
            "every matcher also matches alerts without that label, so the silence would mute every alert: "
            "give at least one matcher a value (e.g. alertname = HighErrorRate)"
        )
    duration = body.get("duration")
    try:
        seconds = units.parse_duration(duration if isinstance(duration, str | int | float) else "")
    except ValueError as exc:
        return None, f"duration: {exc}"
    if seconds <= 0:
        return None, f"duration: {duration!r} is not a positive duration (e.g. 2h)"
    comment = body.get("comment")
    if not isinstance(comment, str) or not comment.strip():
        return None, "a silence needs a comment: say why the alerts are muted (Alertmanager requires it)"
    created_by = body.get("createdBy")
    created_by = (
        created_by.strip() if isinstance(created_by, str) and created_by.strip() else "airscope console"
    )
    return {"matchers": clean, "seconds": seconds, "comment": comment.strip(), "created_by": created_by}, None


def _create(am: promapi.Alertmanager, silence: dict[str, Any]) -> str:
    return am.create_silence(
        silence["matchers"], silence["seconds"], silence["created_by"], silence["comment"]
    )


@router.post("/api/silences")
async def create_silence(request: Request, clients: Clients) -> Any:
    refused = _refused(request)
    if refused:
        return refused
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the body is not JSON")
    silence, problem = _silence_request(body)
    if problem:
        return _error(400, problem)
    try:
        silence_id = await run_in_threadpool(_create, clients.alertmanager, silence)
    except promapi.PromAPIError as exc:
        return _error(503, f"the silence was not made: {exc}")
    return {"silenceID": silence_id}


@router.delete("/api/silences/{silence_id}")
def expire_silence(silence_id: str, request: Request, clients: Clients) -> Any:
    refused = _refused(request)
    if refused:
        return refused
    if not _SILENCE_ID.fullmatch(silence_id):
        return _error(400, f"{silence_id!r} is not a silence id (the ids /api/silences lists)")
    try:
        clients.alertmanager.expire_silence(silence_id)
    except promapi.PromAPIError as exc:
        # Alertmanager answers an unknown id with 500 "silence not found" (0.2x), 404 in later versions.
        if "HTTP 404" in str(exc) or "silence not found" in str(exc):
            return _error(404, f"no silence {silence_id} in Alertmanager: {exc}")
        return _error(503, f"the silence was not expired: {exc}")
    return {"expired": silence_id}


# --- runbooks ---------------------------------------------------------------------------------


def _slug(text: str) -> str:
    """GitHub's heading anchors (the runbooks' ``#fragment`` links are written for them)."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _console_href(href: str, runbooks_dir: Path, source: Path) -> str:
    """A runbook's relative link as the console serves it: another runbook opens in the console; any
    other documentation file where production's ``runbook_url`` points (the same docs, browsable)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("/", "#")) or not parts.path:
        return href
    target = (source.parent / parts.path).resolve()
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    if (
        target.parent == runbooks_dir.resolve()
        and target.suffix == ".md"
        and _RUNBOOK_NAME.fullmatch(target.stem)
    ):
        return f"/runbooks/{target.stem}{fragment}"
    return urljoin(RUNBOOK_BASE_URL.rstrip("/") + "/", href)


def _link_console_paths(children: list[Token]) -> list[Token]:
    """A console path written as code (`/d/airscope-service?var-service=<service>`) becomes a link to
    it, its placeholder variables left out (the page then offers the variable's choices)."""
    out: list[Token] = []
    in_link = 0
    for child in children:
        in_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
        if in_link or child.type != "code_inline" or not _CONSOLE_PATH.fullmatch(child.content):
            out.append(child)
            continue
        path, _, query = child.content.partition("?")
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if "<" not in v]
        href = path + (f"?{urlencode(kept)}" if kept else "")
        out += [Token("link_open", "a", 1, attrs={"href": href}), child, Token("link_close", "a", -1)]
    return out


def render_runbook(runbooks_dir: Path, name: str) -> dict[str, str] | None:
    """``{"name", "title", "html"}`` of docs/runbooks/<name>.md, or None when there is no such runbook."""
    if not _RUNBOOK_NAME.fullmatch(name):
        return None
    source = runbooks_dir / f"{name}.md"
    try:
        text = source.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None
    # No raw HTML from the file: the page inserts this HTML, and markdown is all a runbook needs.
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    title = name
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            inline = tokens[index + 1]
            heading = "".join(
                child.content for child in inline.children or [] if child.type in ("text", "code_inline")
            )
            token.attrSet("id", _slug(heading))
            if token.tag == "h1" and title == name:
                title = heading
        if token.children:
            token.children = _link_console_paths(token.children)
        for child in token.children or []:
            if child.type == "link_open":
                href = str(child.attrGet("href") or "")
                new = _console_href(href, runbooks_dir, source.resolve())
                child.attrSet("href", new)
                if new.startswith(("http://", "https://")):
                    child.attrSet("rel", "noopener")
    html = md.renderer.render(tokens, md.options, {})
    return {"name": name, "title": title, "html": html}


@router.get("/api/runbooks/{name}")
def runbook(name: str, request: Request) -> Any:
    runbooks_dir: Path = request.app.state.config.runbooks_dir
    page = render_runbook(runbooks_dir, name)
    if page is None:
        known = sorted(p.stem for p in runbooks_dir.glob("*.md") if p.stem != "README")
        return _error(404, f"no runbook {name!r} in {runbooks_dir}: there are {', '.join(known) or 'none'}")
    return page
