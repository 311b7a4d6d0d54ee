"""Direct mode: no proxy; the patched clients price calls in-process with the same contract."""

from __future__ import annotations

from decimal import Decimal

import anthropic
import openai
import pytest
from opentelemetry.trace import SpanKind

import llmobserve
from llmobserve import _direct, section
from semconv import (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    SERVER_ADDRESS,
)

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def direct(simulator, monkeypatch):
    """Direct mode with provider hosts sent to the simulator; nothing can leave the machine."""
    simulator.reset()
    monkeypatch.setenv(
        "LLMOBSERVE_UPSTREAM_OVERRIDES",
        f"api.openai.com={simulator.url},api.anthropic.com={simulator.url}",
    )
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    llmobserve.observe()
    return simulator


def priced_spans(spans):
    return [s for s in spans.get_finished_spans() if LLMOBSERVE_COST_STATUS in (s.attributes or {})]


def test_direct_mode_prices_openai_json_and_stream_like_the_proxy(direct, spans):
    import contextvars

    def run():
        llmobserve.set_customer_id("direct-customer")
        client = openai.OpenAI(api_key="sk-direct", max_retries=0)
        with section("agent:direct") as agent:
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
            chunks = list(
                client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True)
            )
        return agent, chunks

    agent, chunks = contextvars.copy_context().run(run)
    # The stream the application asked for: no usage chunk, no "usage": null members.
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    calls = priced_spans(spans)
    assert [s.name for s in calls] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    for span in calls:
        attrs = span.attributes
        assert span.kind is SpanKind.CLIENT
        assert attrs[GEN_AI_PROVIDER_NAME] == "openai"
        assert attrs[GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
        assert attrs[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
        assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 7)
        assert attrs[GEN_AI_USAGE_COST] == 0.000006
        assert attrs[SERVER_ADDRESS] == "api.openai.com"
        assert attrs[LLMOBSERVE_CUSTOMER_ID] == "direct-customer"
        assert attrs[LLMOBSERVE_SECTION_PATH] == "agent:direct"
    # 2 x $0.000006
    assert agent.cost == Decimal("0.000012")
    assert len(direct.requests()) == 2  # the simulator answered: nothing left the machine


async def test_direct_mode_prices_async_anthropic_streams(direct, spans):
    client = anthropic.AsyncAnthropic(api_key="sk-ant-direct", max_retries=0)
    async with (
        section("agent:direct_async") as agent,
        client.messages.stream(
            model="claude-3-haiku-20240307", max_tokens=10, messages=HELLO
        ) as stream,
    ):
        await stream.get_final_message()
    await client.close()
    (call,) = priced_spans(spans)
    assert call.name == "chat claude-3-haiku-20240307"
    # 12 x $0.25/M + 7 x $1.25/M = $0.00001175
    assert call.attributes[GEN_AI_USAGE_COST] == 0.00001175
    assert agent.cost == Decimal("0.00001175")


def test_direct_mode_unknown_model_is_unpriced_not_zero(direct, spans):
    openai.OpenAI(api_key="sk-direct", max_retries=0).chat.completions.create(
        model="gpt-imaginary-9", messages=HELLO
    )
    (call,) = priced_spans(spans)
    assert call.attributes[LLMOBSERVE_COST_STATUS] == "unknown_model"
    assert GEN_AI_USAGE_COST not in call.attributes


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("llmobserve.customer.id=c1,llmobserve.section.path=agent%3Ax", ""),
        ("tenant=eu, llmobserve.customer.id=c1;prop=1 ,user=7", "tenant=eu,user=7"),
        ("llmobserve%2Ecustomer%2Eid=c1,tenant=eu", "tenant=eu"),
        ("tenant=eu", "tenant=eu"),
    ],
)
def test_without_our_baggage_keeps_only_the_applications_entries(value, kept):
    assert _direct.without_our_baggage(value) == kept


def test_a_sigv4_request_is_signed_and_a_bearer_one_is_not():
    assert _direct.is_signed({"authorization": "AWS4-HMAC-SHA256 Credential=AKID/..."})
    assert _direct.is_signed({"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert not _direct.is_signed({"authorization": "Bearer sk-1"})
    assert not _direct.is_signed({})


def test_only_provider_hosts_are_third_parties():
    assert _direct.is_provider_host("api.openai.com")
    assert _direct.is_provider_host("API.OpenAI.com")
    assert _direct.is_provider_host("bedrock-runtime.eu-west-1.amazonaws.com")
    assert not _direct.is_provider_host("localhost")
    assert not _direct.is_provider_host("internal.example.com")
