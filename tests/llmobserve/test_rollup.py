"""Section rollup: the proxy reports each call's cost back and every enclosing section adds it."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import httpx2
import openai
import pytest
from opentelemetry import trace

import llmobserve
from llmobserve import section
from llmobserve._rollup import CommentFilter, Frame
from semconv import (
    LLMOBSERVE_SECTION_CALLS,
    LLMOBSERVE_SECTION_COST,
    LLMOBSERVE_SECTION_UNPRICED_CALLS,
)

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def routed(proxy, monkeypatch):
    """SDK in proxy mode; any call escaping the proxy hits a dead local port, not the internet."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    llmobserve.observe(proxy_url=proxy.url)
    return proxy


def test_sections_add_up_the_cost_of_json_and_streamed_calls(routed, spans):
    oai = openai.OpenAI(api_key="sk-rollup", max_retries=0)
    claude = anthropic.Anthropic(api_key="sk-ant-rollup", max_retries=0)
    with section("agent:rollup") as agent:
        with section("tool:openai") as tool:
            oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        with (
            section("tool:anthropic"),
            claude.messages.stream(
                model="claude-3-haiku-20240307", max_tokens=10, messages=HELLO
            ) as stream,
        ):
            assert stream.get_final_message().usage.output_tokens == 7
        oai.chat.completions.create(model="gpt-imaginary-9", messages=HELLO)
    # $0.000006 (gpt-4o-mini) + $0.00001175 (claude-3-haiku) = $0.00001775
    assert tool.cost == Decimal("0.000006")
    assert agent.cost == Decimal("0.00001775")
    assert agent.unpriced_calls == 1
    finished = {s.name: s.attributes for s in spans.get_finished_spans()}
    assert finished["invoke_agent rollup"][LLMOBSERVE_SECTION_COST] == 0.00001775
    assert finished["invoke_agent rollup"][LLMOBSERVE_SECTION_CALLS] == 2
    assert finished["invoke_agent rollup"][LLMOBSERVE_SECTION_UNPRICED_CALLS] == 1
    assert finished["execute_tool anthropic"][LLMOBSERVE_SECTION_COST] == 0.00001175


def test_the_application_never_sees_the_cost_report(routed):
    body = {"model": "claude-3-haiku-20240307", "max_tokens": 5, "messages": HELLO, "stream": True}
    with section("tool:raw"), httpx2.Client() as client:
        streamed = client.post(
            "https://api.anthropic.com/v1/messages", json=body, headers={"x-api-key": "k"}
        )
        plain = client.post(
            "https://api.openai.com/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": HELLO},
            headers={"Authorization": "Bearer k"},
        )
    assert b"llmobserve-cost" not in streamed.content
    assert streamed.content.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert "x-llmobserve-cost" not in plain.headers
    assert plain.json()["usage"]["prompt_tokens"] == 12


async def test_async_clients_roll_up_too(routed):
    client = openai.AsyncOpenAI(api_key="sk-rollup", max_retries=0)
    async with section("agent:async_rollup") as agent:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, stream=True
        )
        async for _ in stream:
            pass
    await client.close()
    assert agent.cost == Decimal("0.000006")


def _frames() -> tuple[Frame, ...]:
    return (Frame(trace.INVALID_SPAN),)


def _filtered(*chunks: bytes) -> tuple[list[bytes], tuple[Frame, ...]]:
    frames = _frames()
    comment = CommentFilter(frames)
    out = [comment.feed(chunk) for chunk in chunks]
    out.append(comment.close())
    return out, frames


EVENT = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
REPORT = b': llmobserve-cost {"status":"priced","usd":"0.00001175"}\n\n'


def test_comment_filter_removes_the_report_split_anywhere_and_applies_it():
    stream = EVENT + REPORT
    for cut in range(1, len(stream)):
        out, frames = _filtered(stream[:cut], stream[cut:])
        assert b"".join(out) == EVENT, cut
        assert frames[0].cost == Decimal("0.00001175")


def test_comment_filter_passes_each_event_on_at_once():
    out, frames = _filtered(EVENT, EVENT)
    # Nothing held back: an event's closing blank line must reach the SSE parser now.
    assert out == [EVENT, EVENT, b""]
    assert frames[0].calls == 0


def test_comment_filter_holds_back_only_a_possible_start_of_the_report():
    out, _ = _filtered(EVENT + b": llm", b"observe is fine\n\n")
    assert out == [EVENT, b": llmobserve is fine\n\n", b""]


def test_comment_filter_ignores_the_marker_inside_an_event():
    event = b'data: {"text": "x: llmobserve-cost {}"}\n\n'
    out, frames = _filtered(event[:12], event[12:])
    assert b"".join(out) == event
    assert frames[0].calls == frames[0].unpriced == 0
