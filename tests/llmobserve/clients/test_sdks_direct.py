"""The real provider SDKs of test_sdks.py in direct mode: no proxy; LLMOBSERVE_UPSTREAM_OVERRIDES
sends the provider host to the fake upstream. The patched HTTP client underneath prices the call
in-process with the proxy's span contract, adds it to the enclosing sections, and keeps our
baggage entries from the provider. (boto3 is in test_botocore.py.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

import llmobserve
from semconv import (
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    SERVER_ADDRESS,
)

from .conftest import CUSTOMER, FakeUpstream, Traced, in_section
from .sdk_cases import ASYNC, SYNC, Case
from .test_sdks import SPAN_SCOPES, aclose, cases, close


@dataclass(frozen=True)
class Metered:
    """What the span of a call says, from the usage the fake upstream documents."""

    operation: str
    tokens: tuple[int, int] | None = None  # input, output
    units: dict[str, float] | None = None  # llmobserve.usage.*


# Pinecone's control plane (list_indexes) costs nothing per call: no call span.
METERED: dict[str, Metered | None] = {
    "google.genai": Metered("generate_content gemini-2.0-flash", (3, 2)),
    "mistralai": Metered("chat mistral-small-latest", (3, 2)),
    "cohere": Metered("chat command-r-08-2024", (3, 2)),
    "groq": Metered("chat llama-3.1-8b-instant", (3, 2)),
    "together": Metered("chat meta-llama/Llama-3.3-70B-Instruct-Turbo", (3, 2)),
    "pinecone": None,
    "elevenlabs": Metered("text_to_speech eleven_multilingual_v2", units={"characters": 5.0}),
    "voyageai": Metered("embeddings voyage-3", (1, 0)),
}
MORE_BAGGAGE = {"tenant.region": "eu"}


def make_client(case: Case, created: str) -> Any:
    if created == "before_observe":
        client = case.make()
        llmobserve.observe()
        return client
    llmobserve.observe()
    return case.make()


def assert_metered_in_process(case: Case, upstream: FakeUpstream, traced: Traced, spans: Any):
    assert case.check(traced.value), traced.value
    (got,) = upstream.received
    assert got.header("host") == case.host
    # The application's own baggage entries pass; the customer id and section path do not.
    assert got.all("baggage") == ["tenant.region=eu"]
    finished = spans.get_finished_spans()
    # The call went through the HTTP client this SDK version is said to use.
    http = [s for s in finished if s.instrumentation_scope.name == SPAN_SCOPES[case.library]]
    assert len(http) == 1
    calls = [s for s in finished if LLMOBSERVE_COST_STATUS in (s.attributes or {})]
    expected = METERED[case.package]
    if expected is None:
        assert calls == []
        assert traced.cost == 0
        return
    (call,) = calls
    attrs = call.attributes
    assert call.name == expected.operation
    assert call.kind is SpanKind.CLIENT
    # Under the HTTP span, in the section's trace, attributed like the proxy's span.
    assert call.parent is not None and call.parent.span_id == http[0].context.span_id
    assert call.context.trace_id == traced.trace_id
    assert attrs[SERVER_ADDRESS] == case.host
    assert attrs[LLMOBSERVE_CUSTOMER_ID] == CUSTOMER
    assert attrs[LLMOBSERVE_SECTION_PATH] == traced.section_path
    if expected.tokens is not None:
        assert (attrs[GEN_AI_USAGE_INPUT_TOKENS], attrs[GEN_AI_USAGE_OUTPUT_TOKENS]) == (
            expected.tokens
        )
    for unit, quantity in (expected.units or {}).items():
        assert attrs[f"llmobserve.usage.{unit}"] == quantity
    if attrs[LLMOBSERVE_COST_STATUS] == "priced":
        assert attrs[GEN_AI_USAGE_COST] > 0
        # The section adds up exactly the call's cost (the float's shortest repr is exact).
        assert traced.cost == Decimal(repr(attrs[GEN_AI_USAGE_COST]))
    else:
        assert attrs[LLMOBSERVE_COST_STATUS] == "unknown_model", attrs
        assert traced.unpriced_calls == 1


@pytest.mark.parametrize(("case", "created"), cases(SYNC))
def test_sdk_call_is_priced_in_process_in_direct_mode(case, created, spans, monkeypatch):
    with FakeUpstream(case.respond) as upstream:
        monkeypatch.setenv("LLMOBSERVE_UPSTREAM_OVERRIDES", f"{case.host}={upstream.url}")
        client = make_client(case, created)
        try:
            traced = in_section(lambda: case.call(client), **MORE_BAGGAGE)
        finally:
            close(client)
    assert_metered_in_process(case, upstream, traced, spans)


@pytest.mark.parametrize(("case", "created"), cases(ASYNC))
def test_async_sdk_call_is_priced_in_process_in_direct_mode(case, created, spans, monkeypatch):
    with FakeUpstream(case.respond) as upstream:
        monkeypatch.setenv("LLMOBSERVE_UPSTREAM_OVERRIDES", f"{case.host}={upstream.url}")
        client = make_client(case, created)

        async def call() -> Any:
            try:
                return await case.call(client)
            finally:
                await aclose(client)

        traced = in_section(lambda: asyncio.run(call()), **MORE_BAGGAGE)
    assert_metered_in_process(case, upstream, traced, spans)
