"""The HTTP flows: each planned action performed against the gateway, every request counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import httpx

from airscope.local.load.plan import Action
from airscope.local.load.routes import HEALTH_ROUTE, gateway_route
from airscope.local.load.truth import Tally, json_body
from airscope.standins.airtable.seed import BASE_ID, LOAD_BASE_ID

# Wrong passwords per account: far below platform-services' lockout (5 in 15 minutes), so each one
# is answered 401, never 429.
MAX_WRONG_PER_ACCOUNT = 2
WRONG_PASSWORD = "not-the-password"
TOKEN_MARGIN_SECONDS = 30  # a token this close to expiry is not used
UPLOAD_POLL_DELAY_SECONDS = 0.5
OK = range(200, 300)


@dataclass
class Account:
    email: str
    password: str
    wrong: int = 0  # wrong passwords sent for it


@dataclass
class Driver:
    """Performs planned actions against the gateway, keeping what later actions need (registered
    accounts, the newest login token) and counting every request in ``tally``."""

    client: httpx.AsyncClient
    api_key: str
    tally: Tally
    _: KW_ONLY
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    poll_delay: float = UPLOAD_POLL_DELAY_SECONDS
    accounts: list[Account] = field(default_factory=list)
    token: tuple[str, float] | None = None  # (access token, when it expires)

    async def perform(self, action: Action) -> None:
        await getattr(self, "_" + action.kind)(action.params)

    async def send(
        self,
        method: str,
        path: str,
        *,
        authenticated: bool = True,
        use_token: bool = False,
        expect: Collection[int] = OK,
        **request: Any,
    ) -> httpx.Response | None:
        route = gateway_route(method, path)
        headers = self._credentials(use_token) if authenticated else {}
        self.tally.sent += 1
        started = self.clock()
        try:
            response = await self.client.request(method, path, headers=headers, **request)
        except httpx.HTTPError as exc:  # no answer: refused, reset, timed out
            self.tally.record(method, route, None, self.clock() - started, ok=False, error=type(exc).__name__)
            return None
        status = response.status_code
        self.tally.record(method, route, status, self.clock() - started, ok=status in expect)
        return response

    def _credentials(self, use_token: bool) -> dict[str, str]:
        if use_token and self.token and self.token[1] - self.clock() > TOKEN_MARGIN_SECONDS:
            return {"Authorization": f"Bearer {self.token[0]}"}
        return {"X-API-Key": self.api_key}

    async def _chat(self, params: dict[str, Any]) -> None:
        response = await self.send(
            "POST", "/api/chat", json={"message": params["message"]}, use_token=params["use_token"]
        )
        self.tally.domain.chat(response)
        session_id = json_body(response).get("session_id") if response and response.is_success else None
        if params["read_session"] and isinstance(session_id, str):
            await self.send("GET", f"/api/chat/sessions/{session_id}", use_token=params["use_token"])

    async def _list_bases(self, params: dict[str, Any]) -> None:
        await self.send("GET", "/api/airtable/bases", use_token=params["use_token"])

    async def _list_tables(self, params: dict[str, Any]) -> None:
        await self.send("GET", f"/api/airtable/bases/{BASE_ID}/tables", use_token=params["use_token"])

    async def _list_records(self, params: dict[str, Any]) -> None:
        await self.send(
            "GET",
            f"/api/airtable/bases/{BASE_ID}/tables/{params['table']}/records",
            params={"maxRecords": params["max_records"]},
            use_token=params["use_token"],
        )

    async def _create_record(self, params: dict[str, Any]) -> None:
        await self.send(
            "POST",
            f"/api/airtable/bases/{BASE_ID}/tables/{params['table']}/records",
            json={"records": [{"fields": params["fields"]}]},
            use_token=params["use_token"],
        )

    async def _register(self, params: dict[str, Any]) -> None:
        account = Account(params["email"], params["password"])
        body = {"email": account.email, "password": account.password, "display_name": "Load Test"}
        response = await self.send("POST", "/api/auth/register", json=body, authenticated=False)
        self.tally.domain.register(response)
        if response is not None and response.is_success:
            self.accounts.append(account)

    async def _login(self, params: dict[str, Any]) -> None:
        if not self.accounts:
            await self._register(params)
            return
        account = self.accounts[int(params["pick"] * len(self.accounts))]
        body = {"email": account.email, "password": account.password}
        response = await self.send("POST", "/api/auth/login", json=body, authenticated=False)
        self.tally.domain.login(response)
        tokens = json_body(response) if response is not None and response.is_success else {}
        if isinstance(tokens.get("access_token"), str):
            self.token = (tokens["access_token"], self.clock() + float(tokens.get("expires_in", 0)))

    async def _wrong_password(self, params: dict[str, Any]) -> None:
        candidates = [account for account in self.accounts if account.wrong < MAX_WRONG_PER_ACCOUNT]
        if not candidates:
            await self._register(params)
            return
        account = candidates[int(params["pick"] * len(candidates))]
        account.wrong += 1  # before sending: concurrent actions must not push it past the limit
        body = {"email": account.email, "password": WRONG_PASSWORD}
        response = await self.send("POST", "/api/auth/login", json=body, authenticated=False, expect=(401,))
        self.tally.domain.login(response)

    async def _upload(self, params: dict[str, Any]) -> None:
        response = await self.send(
            "POST",
            "/api/automation/files",
            files={"file": (params["filename"], params["csv"].encode(), "text/csv")},
            data={"base_id": BASE_ID, "table": params["table"]},
            use_token=params["use_token"],
        )
        file_id = self.tally.domain.upload(response, params["rows"])
        if file_id is not None:
            await self.sleep(self.poll_delay)
            polled = await self.send("GET", f"/api/automation/files/{file_id}", use_token=params["use_token"])
            self.tally.domain.file_polled(polled, params["rows"])

    async def _health(self, params: dict[str, Any]) -> None:
        await self.send("GET", HEALTH_ROUTE, authenticated=False)

    async def _saga(self, params: dict[str, Any]) -> None:
        response = await self.send(
            "POST",
            "/api/sagas/onboarding",
            json={"workspace_name": params["workspace_name"], "base_id": LOAD_BASE_ID},
            use_token=params["use_token"],
        )
        # The saga runs on after its 202: one look later tells how it ended, as for an upload.
        saga_id = self.tally.domain.saga(response)
        if saga_id is not None:
            await self.sleep(self.poll_delay)
            polled = await self.send("GET", f"/api/sagas/{saga_id}", use_token=params["use_token"])
            self.tally.domain.saga_polled(polled)
