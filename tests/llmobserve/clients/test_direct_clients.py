"""Direct mode through every patched client: no proxy (or an unreachable one), the call goes to
the provider - here the simulator, by LLMOBSERVE_UPSTREAM_OVERRIDES - and is priced in-process
with the proxy's span contract, rolled up into its sections, without our baggage."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp.streams import StreamReader
from opentelemetry.trace import SpanKind

import llmobserve
from llmobserve._servers import free_port
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

from .calls import ANTHROPIC_MESSAGES, AUTH, CLIENTS, OPENAI_CHAT, chat, messages, sse_data
from .conftest import CUSTOMER, in_section


@pytest.fixture
def overrides(simulator, monkeypatch):
    """Provider hosts go to the simulator; nothing can leave the machine."""
    simulator.reset()
    monkeypatch.setenv(
        "LLMOBSERVE_UPSTREAM_OVERRIDES",
        f"api.openai.com={simulator.url},api.anthropic.com={simulator.url}",
    )
    return simulator


def call_spans(spans: Any) -> list[Any]:
    return [s for s in spans.get_finished_spans() if LLMOBSERVE_COST_STATUS in (s.attributes or {})]


def assert_priced_like_the_proxy(span: Any, *, response_model: str = "gpt-4o-mini-2024-07-18"):
    attrs = span.attributes
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "llmobserve.direct"
    assert attrs[LLMOBSERVE_COST_STATUS] == "priced"
    assert attrs[SERVER_ADDRESS] in ("api.openai.com", "api.anthropic.com")
    assert attrs[GEN_AI_RESPONSE_MODEL] == response_model
    assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (12, 7)
    assert attrs[LLMOBSERVE_CUSTOMER_ID] == CUSTOMER
    assert attrs[LLMOBSERVE_SECTION_PATH] == "agent:sdk_test/tool:call"


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_direct_mode_prices_a_compressed_json_call(client, overrides, spans):
    llmobserve.observe()
    traced = in_section(lambda: client(OPENAI_CHAT, chat()))
    seen = traced.value
    assert seen.status == 200
    assert seen.json()["usage"]["prompt_tokens"] == 12
    (span,) = call_spans(spans)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[GEN_AI_PROVIDER_NAME] == "openai"
    assert span.attributes[GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert span.attributes[GEN_AI_USAGE_COST] == 0.000006  # 12 x $0.15/M + 7 x $0.60/M
    assert_priced_like_the_proxy(span)
    assert traced.cost == Decimal("0.000006")
    (request,) = overrides.requests()
    # The simulator compressed the body (the client accepts gzip): read after decoding.
    assert "gzip" in dict(request["headers"]).get("accept-encoding", "")
    assert dict(request["headers"])["host"] == "api.openai.com"


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_direct_mode_asks_an_openai_stream_for_usage_and_hides_it(client, overrides, spans):
    llmobserve.observe()
    traced = in_section(lambda: client(OPENAI_CHAT, chat(stream=True)))
    seen = traced.value
    chunks = sse_data(seen.body)
    # The stream the application asked for: no usage chunk, no "usage": null members.
    assert chunks and all(chunk["choices"] for chunk in chunks)
    assert all("usage" not in chunk for chunk in chunks)
    assert seen.body.rstrip().endswith(b"data: [DONE]")
    (span,) = call_spans(spans)
    assert_priced_like_the_proxy(span)
    assert traced.cost == Decimal("0.000006")
    (request,) = overrides.requests()
    assert '"include_usage":true' in request["body"]


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_direct_mode_prices_an_anthropic_stream(client, overrides, spans):
    llmobserve.observe()
    traced = in_section(lambda: client(ANTHROPIC_MESSAGES, messages(stream=True)))
    seen = traced.value
    assert seen.body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    (span,) = call_spans(spans)
    assert_priced_like_the_proxy(span, response_model="claude-3-haiku-20240307")
    # 12 x $0.25/M + 7 x $1.25/M
    assert span.attributes[GEN_AI_USAGE_COST] == 0.00001175
    assert traced.cost == Decimal("0.00001175")


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_direct_call_to_a_provider_carries_none_of_our_baggage(client, overrides):
    llmobserve.observe()
    in_section(lambda: client(OPENAI_CHAT, chat()), **{"tenant.region": "eu"})
    (request,) = overrides.requests()
    headers = dict(request["headers"])
    assert headers.get("traceparent")
    # Other entries pass; the customer id and section path stay home.
    assert headers.get("baggage") == "tenant.region=eu"


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_an_unreachable_proxy_fails_open_and_the_call_is_priced_in_process(
    client, overrides, spans, caplog
):
    llmobserve.observe(proxy_url=f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="llmobserve"):
        traced = in_section(lambda: client(OPENAI_CHAT, chat()))
        seen = traced.value
    assert seen.status == 200
    assert [r for r in caplog.records if "unreachable" in r.getMessage()]
    (span,) = call_spans(spans)
    assert_priced_like_the_proxy(span)
    assert traced.cost == Decimal("0.000006")
    (request,) = overrides.requests()
    headers = dict(request["headers"])
    assert "llmobserve" not in headers.get("baggage", "")
    assert not [name for name in headers if name.startswith("x-llmobserve-")]


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_unknown_model_is_unpriced_not_zero(client, overrides, spans):
    llmobserve.observe()
    traced = in_section(lambda: client(OPENAI_CHAT, chat("gpt-imaginary-9")))
    (span,) = call_spans(spans)
    assert span.attributes[LLMOBSERVE_COST_STATUS] == "unknown_model"
    assert GEN_AI_USAGE_COST not in span.attributes
    assert (traced.cost, traced.unpriced_calls) == (Decimal(0), 1)


@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_calls_to_other_hosts_are_left_alone(client, simulator, spans):
    simulator.reset()
    llmobserve.observe()
    seen = in_section(lambda: client(f"{simulator.url}/v1/chat/completions", chat())).value
    assert seen.status == 200
    assert call_spans(spans) == []
    # Not a third party: our own services get the whole context.
    (request,) = simulator.requests()
    assert f"llmobserve.customer.id={CUSTOMER}" in dict(request["headers"])["baggage"]


def test_aiohttp_body_read_still_compressed_is_decoded_for_pricing(overrides, spans):
    llmobserve.observe()

    async def call() -> Any:
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.post(OPENAI_CHAT, json=chat(), headers=AUTH) as response,
        ):
            return response.headers["Content-Encoding"], await response.read()

    traced = in_section(lambda: asyncio.run(call()))
    encoding, body = traced.value
    assert encoding == "gzip"
    assert json.loads(gzip.decompress(body))["usage"]["prompt_tokens"] == 12
    (span,) = call_spans(spans)
    assert_priced_like_the_proxy(span)
    assert traced.cost == Decimal("0.000006")


def test_requests_raw_body_read_still_compressed_is_decoded_for_pricing(overrides, spans):
    llmobserve.observe()

    def call() -> Any:
        with requests.post(OPENAI_CHAT, json=chat(), headers=AUTH, stream=True) as response:
            return response.headers["Content-Encoding"], response.raw.read()

    traced = in_section(call)
    encoding, body = traced.value
    assert encoding == "gzip"
    assert json.loads(gzip.decompress(body))["usage"]["prompt_tokens"] == 12
    (span,) = call_spans(spans)
    assert_priced_like_the_proxy(span)
    assert traced.cost == Decimal("0.000006")


def test_aiohttp_responses_of_other_hosts_keep_their_own_reader(simulator):
    llmobserve.observe()

    async def call() -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{simulator.url}/v1/chat/completions", json=chat(), headers=AUTH) as r,
        ):
            return type(r.content), await r.json()

    reader, body = asyncio.run(call())
    assert reader is StreamReader
    assert body["usage"]["prompt_tokens"] == 12
