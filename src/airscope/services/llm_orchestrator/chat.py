"""One chat turn: the history, the model, the tools it asks for, until it answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from airscope.services.common import ServiceError
from airscope.services.llm_orchestrator import metrics
from airscope.services.llm_orchestrator.budget import Budget
from airscope.services.llm_orchestrator.config import Config
from airscope.services.llm_orchestrator.history import History, recent
from airscope.services.llm_orchestrator.llm import LLM
from airscope.services.llm_orchestrator.tools import McpTools

SYSTEM_PROMPT = (
    "You are Airscope's assistant for the user's Airtable data. Use the tools to look up bases, tables "
    "and records, and answer from what they return; never invent data. Be brief."
)
NO_TOOLS = (
    " The Airtable tools are unavailable right now: say so when a question needs Airtable data, "
    "instead of guessing."
)


def system_prompt(airtable_base_id: str | None, tools_available: bool) -> str:
    prompt = SYSTEM_PROMPT
    if airtable_base_id:
        prompt += f" The user's base is {airtable_base_id}; use it unless they name another."
    if not tools_available:
        prompt += NO_TOOLS
    return prompt


@dataclass
class ChatResult:
    session_id: str
    answer: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: list[dict] = field(default_factory=list)
    steps: int = 0


class Chat:
    def __init__(self, config: Config, history: History, budget: Budget, llm: LLM, tools: McpTools) -> None:
        self.config = config
        self.history = history
        self.budget = budget
        self.llm = llm
        self.tools = tools

    async def session(self, session_id: str) -> list[dict]:
        messages = await self.history.load(session_id)
        if messages is None:
            raise ServiceError(404, "session_not_found", f"no chat session {session_id!r}")
        return messages

    async def turn(self, message: str, session_id: str | None) -> ChatResult:
        """Answers ``message`` in the session (a new one when None or unknown).

        The new messages are stored only when the model answered: a failed turn leaves the
        session as it was, so the client can simply send the message again. The turn's spend is
        recorded once, when it ends (answered or not): the budget is checked at a chat's start,
        so recording each completion on its own bought only more Redis round trips.
        """
        await self.budget.ensure_available()
        # A new session has no history to read.
        earlier = (await self.history.load(session_id) or []) if session_id else []
        new: list[dict] = [{"role": "user", "content": message}]
        result = ChatResult(session_id=session_id or uuid.uuid4().hex, answer="", model=self.config.llm_model)
        try:
            outcome = await self._converse(earlier, new, result)
        except Exception:
            metrics.LLM_CHATS.labels("failed").inc()
            raise
        finally:
            if result.input_tokens:  # a chat the provider never answered has no tokens to show
                metrics.LLM_CHAT_INPUT_TOKENS.labels(self.config.llm_model).observe(result.input_tokens)
            await self.budget.record(result.cost_usd)
        metrics.LLM_CHATS.labels(outcome).inc()
        metrics.LLM_ACTIVE_SESSIONS.set(await self.history.append(result.session_id, new))
        return result

    async def _converse(self, earlier: list[dict], new: list[dict], result: ChatResult) -> str:
        """Asks the model, runs the tools it asks for, until it answers; the chat's outcome label."""
        last_tool_failed = False
        toolbox = await self.tools.toolbox()
        system = {"role": "system", "content": system_prompt(self.config.airtable_base_id, toolbox.available)}
        while result.steps < self.config.chat_max_steps:
            result.steps += 1
            completion = await self.llm.complete([system, *recent(earlier), *new], toolbox.openai_tools)
            result.input_tokens += completion.input_tokens
            result.output_tokens += completion.output_tokens
            result.cost_usd += completion.cost_usd
            reply = completion.message
            if not reply.tool_calls:
                result.answer = reply.content or ""
                new.append({"role": "assistant", "content": result.answer})
                if not toolbox.available:
                    return "no_tools"
                return "tool_failure" if last_tool_failed else "answered"
            new.append(
                {
                    "role": "assistant",
                    "content": reply.content,
                    "tool_calls": [call.model_dump(exclude_none=True) for call in reply.tool_calls],
                }
            )
            for call in reply.tool_calls:
                name = getattr(getattr(call, "function", None), "name", "")
                arguments = getattr(getattr(call, "function", None), "arguments", "")
                outcome = await toolbox.call(name, arguments)
                result.tool_calls.append({"tool": outcome.tool, "ok": outcome.ok})
                new.append({"role": "tool", "tool_call_id": call.id, "content": outcome.text})
                last_tool_failed = not outcome.ok
        raise ServiceError(
            502,
            "llm_no_answer",
            f"the model did not answer within {self.config.chat_max_steps} steps (CHAT_MAX_STEPS); "
            "it kept calling tools. Ask a narrower question.",
        )
