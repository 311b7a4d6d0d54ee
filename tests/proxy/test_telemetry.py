"""The proxy span: usage, cost and status attributes, and attribution from baggage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, Tracer

from pricing import TokenUsage, default_registry
from proxy.protocol import BAGGAGE_CUSTOMER_ID, BAGGAGE_SECTION_PATH
from proxy.providers.anthropic import Messages
from proxy.providers.base import RequestFacts
from proxy.providers.openai import ChatCompletions
from proxy.providers.result import CallResult
from proxy.providers.sse import EventSplitter
from proxy.telemetry import MAX_ATTRIBUTION_CHARS, attribution, record_response
from semconv import (
    ERROR_TYPE,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_COST_CACHE_READ,
    LLMOBSERVE_COST_CACHE_WRITE,
    LLMOBSERVE_COST_INPUT,
    LLMOBSERVE_COST_MODEL,
    LLMOBSERVE_COST_OUTPUT,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_SOURCE,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION_PATH,
    GenAiProviderNameValues,
    LlmobserveCostStatusValues,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OPENAI = GenAiProviderNameValues.OPENAI
ANTHROPIC = GenAiProviderNameValues.ANTHROPIC
USAGE_ATTRIBUTES = (
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
)
COST_ATTRIBUTES = (
    GEN_AI_USAGE_COST,
    LLMOBSERVE_COST_SOURCE,
    LLMOBSERVE_COST_MODEL,
    LLMOBSERVE_COST_INPUT,
    LLMOBSERVE_COST_OUTPUT,
    LLMOBSERVE_COST_CACHE_READ,
    LLMOBSERVE_COST_CACHE_WRITE,
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[Tracer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tests.proxy.telemetry")
    provider.shutdown()


def _record(
    tracer: Tracer,
    exporter: InMemorySpanExporter,
    result: CallResult,
    *,
    status: int = 200,
    provider_id: str = OPENAI,
    request_model: str | None = None,
) -> tuple[Decimal | None, ReadableSpan]:
    span = tracer.start_span("chat")
    priced = record_response(
        span,
        status=status,
        provider_id=provider_id,
        facts=RequestFacts(model=request_model),
        result=result,
        registry=default_registry(),
    )
    span.end()
    cost = priced.total
    (finished,) = exporter.get_finished_spans()
    return cost, finished


def _attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


def _document(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def test_semconv_constants_have_the_documented_names() -> None:
    assert GEN_AI_USAGE_COST == "gen_ai.usage.cost"
    assert LLMOBSERVE_COST_STATUS == "llmobserve.cost.status"
    assert LlmobserveCostStatusValues.PRICED == "priced"
    assert LlmobserveCostStatusValues.UNKNOWN_MODEL == "unknown_model"
    assert LlmobserveCostStatusValues.USAGE_UNAVAILABLE == "usage_unavailable"
    assert LlmobserveCostStatusValues.UPSTREAM_ERROR == "upstream_error"


# record_response: priced calls


def test_record_response_prices_openai_fixture_with_cache_hit(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = ChatCompletions().read_document(_document("openai/chat_completion.json"))

    cost, span = _record(tracer, exporter, result, request_model="gpt-4o-mini")

    # gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output.
    # uncached input (2118 - 1920) =  198 * 0.15  / 1e6 = 0.0000297
    # cache read                     1920 * 0.075 / 1e6 = 0.000144
    # output                           36 * 0.60  / 1e6 = 0.0000216
    # total                                               0.0001953
    assert cost == Decimal("0.0001953")
    attributes = _attributes(span)
    assert attributes[GEN_AI_USAGE_COST] == float(Decimal("0.0001953"))
    assert attributes[LLMOBSERVE_COST_INPUT] == float(Decimal("0.0000297"))
    assert attributes[LLMOBSERVE_COST_CACHE_READ] == float(Decimal("0.000144"))
    assert attributes[LLMOBSERVE_COST_OUTPUT] == float(Decimal("0.0000216"))
    assert attributes[LLMOBSERVE_COST_CACHE_WRITE] == 0.0
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.PRICED
    assert attributes[LLMOBSERVE_COST_MODEL] == "gpt-4o-mini"
    assert attributes[LLMOBSERVE_COST_SOURCE] == "registry"
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 2118
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 36
    assert attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 1920
    assert attributes[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 0
    assert attributes[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attributes[GEN_AI_RESPONSE_ID] == "chatcmpl-Bq7kXw2Lr9TfYc4NhVa0sEuJm3PiD"
    assert attributes[HTTP_RESPONSE_STATUS_CODE] == 200
    assert GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in attributes
    assert LLMOBSERVE_COST_REASON not in attributes
    assert ERROR_TYPE not in attributes
    assert span.status.status_code is StatusCode.UNSET


def test_record_response_prices_claude_3_haiku_with_cache_write_and_read(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    # Anthropic's 100 uncached + 2000 written + 3000 read input tokens, as read_usage sums them.
    usage = TokenUsage(
        input_tokens=5100, output_tokens=400, cache_read_tokens=3000, cache_write_tokens=2000
    )
    result = CallResult(response_model="claude-3-haiku-20240307", usage=usage)

    cost, span = _record(tracer, exporter, result, provider_id=ANTHROPIC)

    # claude-3-haiku-20240307: $0.25/M input, $1.25/M output, $0.30/M cache write,
    # $0.03/M cache read.
    # uncached input  100 * 0.25 / 1e6 = 0.000025
    # cache write    2000 * 0.30 / 1e6 = 0.0006
    # cache read     3000 * 0.03 / 1e6 = 0.00009
    # output          400 * 1.25 / 1e6 = 0.0005
    # total                              0.001215
    assert cost == Decimal("0.001215")
    attributes = _attributes(span)
    assert attributes[GEN_AI_USAGE_COST] == float(Decimal("0.001215"))
    assert attributes[LLMOBSERVE_COST_INPUT] == float(Decimal("0.000025"))
    assert attributes[LLMOBSERVE_COST_CACHE_WRITE] == float(Decimal("0.0006"))
    assert attributes[LLMOBSERVE_COST_CACHE_READ] == float(Decimal("0.00009"))
    assert attributes[LLMOBSERVE_COST_OUTPUT] == float(Decimal("0.0005"))
    assert attributes[LLMOBSERVE_COST_MODEL] == "claude-3-haiku-20240307"
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 5100
    assert attributes[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 2000
    assert attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3000


def test_record_response_prices_anthropic_fixture_read_from_json(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = Messages().read_document(_document("anthropic/message.json"))

    cost, span = _record(tracer, exporter, result, provider_id=ANTHROPIC)

    # claude-3-5-haiku: $0.80/M input, $0.08/M cache read, $4.00/M output.
    # uncached input   14 * 0.80 / 1e6 = 0.0000112
    # cache read     2031 * 0.08 / 1e6 = 0.00016248
    # output           29 * 4.00 / 1e6 = 0.000116
    # total                              0.00028968
    assert cost == Decimal("0.00028968")
    assert _attributes(span)[GEN_AI_USAGE_INPUT_TOKENS] == 2045


def test_record_response_records_reasoning_tokens_of_fixture(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = ChatCompletions().read_document(_document("openai/chat_completion_reasoning.json"))

    cost, span = _record(tracer, exporter, result, request_model="o3-mini")

    # o3-mini: $1.10/M input, $4.40/M output (reasoning billed as output).
    # input    75 * 1.10 / 1e6 = 0.0000825
    # output 1186 * 4.40 / 1e6 = 0.0052184
    # total                      0.0053009
    assert cost == Decimal("0.0053009")
    attributes = _attributes(span)
    assert attributes[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 1024
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 1186


def test_record_response_uses_request_model_when_response_names_none(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(usage=TokenUsage(input_tokens=1000, output_tokens=500))

    cost, span = _record(tracer, exporter, result, request_model="gpt-4o-mini")

    # 1000 * 0.15 / 1e6 + 500 * 0.60 / 1e6 = 0.00015 + 0.0003 = 0.00045
    assert cost == Decimal("0.00045")
    assert GEN_AI_RESPONSE_MODEL not in _attributes(span)


def test_record_response_prefers_response_model_over_request_model(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(
        response_model="gpt-4o-2024-08-06", usage=TokenUsage(input_tokens=1, output_tokens=1)
    )

    _, span = _record(tracer, exporter, result, request_model="gpt-4o-mini")

    assert _attributes(span)[LLMOBSERVE_COST_MODEL] == "gpt-4o"


def test_record_response_prices_usage_so_far_and_gives_reason_when_stream_was_cut(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(
        response_model="gpt-4o-mini",
        usage=TokenUsage(input_tokens=1000, output_tokens=500),
        problem="stream ended before message_stop (truncated); usage so far",
    )

    cost, span = _record(tracer, exporter, result)

    assert cost == Decimal("0.00045")
    attributes = _attributes(span)
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.PRICED
    assert attributes[LLMOBSERVE_COST_REASON] == (
        "stream ended before message_stop (truncated); usage so far"
    )


def test_record_response_prices_anthropic_stream_that_ended_with_error_event(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    reader = Messages().stream_reader()
    stream = (FIXTURES / "anthropic/message_stream_overloaded.txt").read_bytes()
    for event in EventSplitter(1 << 20).feed(stream):
        reader.on_event(event)

    cost, span = _record(tracer, exporter, reader.result(), provider_id=ANTHROPIC)

    # claude-3-5-haiku: 412 * 0.80 / 1e6 + 1 * 4.00 / 1e6 = 0.0003296 + 0.000004 = 0.0003336
    assert cost == Decimal("0.0003336")
    attributes = _attributes(span)
    assert attributes[ERROR_TYPE] == "overloaded_error"
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.PRICED
    assert span.status.status_code is StatusCode.ERROR


# record_response: calls that cannot be priced


def test_record_response_flags_unknown_model_without_cost(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(
        response_model="gpt-99-turbo", usage=TokenUsage(input_tokens=10, output_tokens=5)
    )

    cost, span = _record(tracer, exporter, result)

    assert cost is None
    attributes = _attributes(span)
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.UNKNOWN_MODEL
    assert "gpt-99-turbo" in str(attributes[LLMOBSERVE_COST_REASON])
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert attributes[GEN_AI_USAGE_OUTPUT_TOKENS] == 5
    assert not set(COST_ATTRIBUTES) & set(attributes)


def test_record_response_flags_unknown_model_when_provider_has_no_prices(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(response_model="gpt-4o-mini", usage=TokenUsage(1, 1))

    cost, span = _record(tracer, exporter, result, provider_id="groq")

    assert cost is None
    assert _attributes(span)[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.UNKNOWN_MODEL


def test_record_response_flags_unknown_model_when_no_model_is_named(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    cost, span = _record(tracer, exporter, CallResult(usage=TokenUsage(10, 5)))

    assert cost is None
    attributes = _attributes(span)
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.UNKNOWN_MODEL
    assert attributes[LLMOBSERVE_COST_REASON] == "no model named and openai has no default entry"
    assert GEN_AI_USAGE_COST not in attributes


def test_record_response_flags_missing_usage_with_reason(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(response_model="gpt-4o-mini", problem="response has no usage object")

    cost, span = _record(tracer, exporter, result)

    assert cost is None
    attributes = _attributes(span)
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.USAGE_UNAVAILABLE
    assert attributes[LLMOBSERVE_COST_REASON] == "response has no usage object"
    assert attributes[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert not set(USAGE_ATTRIBUTES) & set(attributes)
    assert not set(COST_ATTRIBUTES) & set(attributes)
    assert ERROR_TYPE not in attributes


def test_record_response_gives_default_reason_when_usage_is_missing_without_problem(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    _, span = _record(tracer, exporter, CallResult())

    assert _attributes(span)[LLMOBSERVE_COST_REASON] == "no usage reported"


@pytest.mark.parametrize(
    "usage",
    [
        TokenUsage(input_tokens=10, output_tokens=1, cache_read_tokens=20),
        TokenUsage(input_tokens=10, output_tokens=1, reasoning_tokens=2),
    ],
    ids=["cache-over-input", "reasoning-over-output"],
)
def test_record_response_keeps_counts_but_does_not_price_contradictory_usage(
    tracer: Tracer, exporter: InMemorySpanExporter, usage: TokenUsage
) -> None:
    result = CallResult(response_model="gpt-4o-mini", usage=usage)

    cost, span = _record(tracer, exporter, result)

    assert cost is None
    attributes = _attributes(span)
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.USAGE_UNAVAILABLE
    assert "exceed" in str(attributes[LLMOBSERVE_COST_REASON])
    assert attributes[GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert GEN_AI_USAGE_COST not in attributes


def test_record_response_flags_upstream_error_with_provider_error_type(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(error_type="rate_limit_exceeded")

    cost, span = _record(tracer, exporter, result, status=429, request_model="gpt-4o-mini")

    assert cost is None
    attributes = _attributes(span)
    assert attributes[ERROR_TYPE] == "rate_limit_exceeded"
    assert attributes[HTTP_RESPONSE_STATUS_CODE] == 429
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.UPSTREAM_ERROR
    assert LLMOBSERVE_COST_REASON not in attributes
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "provider answered 429: rate_limit_exceeded"


def test_record_response_uses_status_as_error_type_when_body_names_none(
    tracer: Tracer, exporter: InMemorySpanExporter
) -> None:
    result = CallResult(problem="error body is not valid JSON (Expecting value at byte 0)")

    _, span = _record(tracer, exporter, result, status=502)

    attributes = _attributes(span)
    assert attributes[ERROR_TYPE] == "502"
    assert attributes[LLMOBSERVE_COST_STATUS] == LlmobserveCostStatusValues.UPSTREAM_ERROR


# attribution


def _baggage_context(**values: str) -> Context:
    context = Context()
    for key, value in values.items():
        context = baggage.set_baggage(key, value, context)
    return context


def test_attribution_reads_customer_and_section_from_baggage() -> None:
    context = _baggage_context(
        **{BAGGAGE_CUSTOMER_ID: "acme", BAGGAGE_SECTION_PATH: "checkout/summary", "other": "x"}
    )

    assert attribution(context) == {
        LLMOBSERVE_CUSTOMER_ID: "acme",
        LLMOBSERVE_SECTION_PATH: "checkout/summary",
    }


def test_attribution_is_empty_without_our_baggage() -> None:
    assert attribution(Context()) == {}
    assert attribution(_baggage_context(other="x")) == {}


def test_attribution_skips_empty_values() -> None:
    assert attribution(_baggage_context(**{BAGGAGE_CUSTOMER_ID: ""})) == {}


def test_attribution_removes_control_characters() -> None:
    context = _baggage_context(**{BAGGAGE_CUSTOMER_ID: "ac\x00me\x1b[31m\r\n\t\x7f!"})

    assert attribution(context) == {LLMOBSERVE_CUSTOMER_ID: "acme[31m!"}


def test_attribution_caps_values_after_cleaning() -> None:
    long_value = "\n" * 10 + "a" * 300
    context = _baggage_context(**{BAGGAGE_SECTION_PATH: long_value})

    assert attribution(context) == {LLMOBSERVE_SECTION_PATH: "a" * MAX_ATTRIBUTION_CHARS}
    assert MAX_ATTRIBUTION_CHARS == 256


def test_attribution_cleans_percent_encoded_baggage_header() -> None:
    header = f"{BAGGAGE_CUSTOMER_ID}=acme%0D%0AX-Injected%3A%201,{BAGGAGE_SECTION_PATH}={'b' * 300}"
    context = W3CBaggagePropagator().extract({"baggage": header})

    assert attribution(context) == {
        LLMOBSERVE_CUSTOMER_ID: "acmeX-Injected: 1",
        LLMOBSERVE_SECTION_PATH: "b" * 256,
    }


def test_attribution_removes_c1_control_characters() -> None:
    context = _baggage_context(**{BAGGAGE_CUSTOMER_ID: "ac\x9b31mme\x85"})

    assert attribution(context) == {LLMOBSERVE_CUSTOMER_ID: "ac31mme"}
