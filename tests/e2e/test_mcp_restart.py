"""mcp-server killed under chat load: llm-orchestrator's one MCP session is re-opened after the restart.

Chats go through the gateway at 5 a second for 12 s; mcp-server is killed (SIGKILL) after 3 s and
supervisord starts it again. Every chat is answered (200): the ones in flight at the kill may
report a failed tool, those that came while mcp-server was gone answer without tools, and once it
is back (plus the orchestrator's pause between attempts to reopen) chats use the tools again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass

import httpx
import pytest

from airscope.local.supervisor import Supervisor
from airscope.services.llm_orchestrator.tools import REOPEN_AFTER_SECONDS
from tests.e2e.conftest import API_KEY, RunningPlatform

pytestmark = pytest.mark.infra

CHATS_PER_SECOND = 5
LOAD_SECONDS = 12.0
KILL_AFTER_SECONDS = 3.0
MESSAGE = "List the tables in my base"  # local mode names the demo base: one list_tables call


@dataclass(frozen=True)
class Sent:
    began: float
    ended: float
    status: int
    tools: list[dict]


async def _chat(client: httpx.AsyncClient, url: str) -> Sent:
    began = time.monotonic()
    try:
        response = await client.post(url, json={"message": MESSAGE}, headers={"X-API-Key": API_KEY})
        status, tools = response.status_code, response.json().get("tool_calls", [])
    except httpx.HTTPError:
        status, tools = 0, []
    return Sent(began, time.monotonic(), status, tools)


async def _ready_again(url: str, sup: Supervisor, old_pid: int) -> float:
    """When mcp-server, started again by supervisord, answers ready."""
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if sup.pid("mcp-server") not in (None, old_pid):
                try:
                    if (await client.get(url + "/health/ready")).status_code == 200:
                        return time.monotonic()
                except httpx.HTTPError:
                    pass
            await asyncio.sleep(0.1)


async def _load_with_a_kill(platform: RunningPlatform) -> tuple[list[Sent], float, float]:
    sup = Supervisor(platform.home)
    pid = sup.pid("mcp-server")
    assert pid, "mcp-server is not running"
    chats: list[asyncio.Task[Sent]] = []
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as client:
        for n in range(int(CHATS_PER_SECOND * LOAD_SECONDS)):
            await asyncio.sleep(max(0.0, start + n / CHATS_PER_SECOND - time.monotonic()))
            if n == int(CHATS_PER_SECOND * KILL_AFTER_SECONDS):
                killed = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                back = asyncio.create_task(_ready_again(platform["mcp-server"], sup, pid))
            chats.append(asyncio.create_task(_chat(client, platform.api + "/chat")))
        sent = await asyncio.gather(*chats)
        return sent, killed, await asyncio.wait_for(back, 30)


def test_chats_answer_through_an_mcp_server_restart_and_use_tools_again(platform: RunningPlatform):
    sent, killed, back = asyncio.run(_load_with_a_kill(platform))
    after = [s for s in sent if s.began > back + REOPEN_AFTER_SECONDS]
    print(
        f"FIGURES mcp-server restart: back after {back - killed:.1f} s; {len(sent)} chats, "
        f"{sum(s.status == 200 for s in sent)} answered, {sum(bool(s.tools) for s in sent)} with tools, "
        f"{len(after)} after it was back"
    )
    assert [s for s in sent if s.status != 200] == []
    assert after, "no chat was sent after mcp-server was back: raise LOAD_SECONDS"
    assert all(s.tools == [{"tool": "list_tables", "ok": True}] for s in after), after
    # Before the kill, the tools were used as well: the session was the one shared since.
    assert all(s.tools for s in sent if s.ended < killed)
