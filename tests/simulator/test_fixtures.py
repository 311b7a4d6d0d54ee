"""The hand-written provider fixtures in tests/fixtures/ parse as the official SDK types."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
from anthropic.types import Message, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _sse_data(name: str) -> list[tuple[str | None, str]]:
    events = []
    for block in (FIXTURES / name).read_text().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines.get("event"), lines["data"]))
    return events


def test_fixture_openai_chat_completion_is_a_chat_completion() -> None:
    completion = ChatCompletion.model_validate_json(
        (FIXTURES / "openai/chat_completion.json").read_text()
    )
    usage = completion.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert 0 < (usage.prompt_tokens_details.cached_tokens or 0) <= usage.prompt_tokens


def test_fixture_openai_stream_with_usage_has_null_usage_then_usage_chunk() -> None:
    events = _sse_data("openai/chat_completion_stream.txt")
    assert events[-1] == (None, "[DONE]")
    payloads = [json.loads(data) for _, data in events[:-1]]
    chunks = [ChatCompletionChunk.model_validate(payload) for payload in payloads]
    assert all(payload["usage"] is None for payload in payloads[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == (
        chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    )


def test_fixture_openai_stream_without_usage_has_no_usage_key() -> None:
    events = _sse_data("openai/chat_completion_stream_no_usage.txt")
    assert events[-1] == (None, "[DONE]")
    payloads = [json.loads(data) for _, data in events[:-1]]
    for payload in payloads:
        ChatCompletionChunk.model_validate(payload)
        assert "usage" not in payload
        assert payload["choices"]


def test_fixture_anthropic_message_is_a_message() -> None:
    message = Message.model_validate_json((FIXTURES / "anthropic/message.json").read_text())
    assert (message.usage.cache_read_input_tokens or 0) > 0
    assert message.usage.cache_creation is not None


def test_fixture_anthropic_stream_events_are_stream_events() -> None:
    adapter: pydantic.TypeAdapter[RawMessageStreamEvent] = pydantic.TypeAdapter(
        RawMessageStreamEvent
    )
    events = _sse_data("anthropic/message_stream.txt")
    parsed = [(name, json.loads(data)) for name, data in events]
    assert all(name == payload["type"] for name, payload in parsed)
    assert parsed[0][0] == "message_start"
    assert parsed[-1][0] == "message_stop"
    for name, payload in parsed:
        if name != "ping":
            adapter.validate_python(payload)
    assert parsed[0][1]["message"]["usage"]["cache_creation_input_tokens"] > 0
