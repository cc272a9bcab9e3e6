"""The token usage the LLM stand-in reports: a fixed rule instead of a tokenizer.

One token per 4 characters, rounded up, counted per item:

- ``prompt_tokens`` = the sum, over every message, of ceil(chars / 4), where a message's chars are
  its text content plus, for an assistant message with ``tool_calls``, the compact JSON of those
  tool calls; plus, over every tool definition in ``tools``, ceil(chars / 4) of its compact JSON.
- ``completion_tokens`` = ceil(chars / 4) of the answer text, or of the compact JSON of the
  answer's ``tool_calls`` list (exactly as the response carries it).
- ``total_tokens`` = ``prompt_tokens`` + ``completion_tokens``.

Compact JSON is ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``. The numbers are
deterministic, so tests and cost accounting downstream can predict them exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from airscope.standins.llm.rules.conversation import content_text

CHARS_PER_TOKEN = 4


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(message: Mapping[str, Any]) -> int:
    text = content_text(message)
    if message.get("tool_calls"):
        text += compact_json(message["tool_calls"])
    return tokens(text)


def prompt_tokens(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None) -> int:
    return sum(message_tokens(m) for m in messages) + sum(tokens(compact_json(t)) for t in tools or ())


def usage(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Any] | None,
    *,
    text: str | None,
    tool_calls: list[dict[str, Any]] | None,
) -> dict[str, int]:
    prompt = prompt_tokens(messages, tools)
    completion = tokens(text) if text is not None else tokens(compact_json(tool_calls))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
