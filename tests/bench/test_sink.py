"""The benchmark sink counts spans per customer id from the bytes: the same counts as a full
protobuf parse, whichever encoder wrote them."""

from __future__ import annotations

from collections import Counter

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench.sink import tags
from proxy.otlp import SpanEncoder
from semconv import LLMOBSERVE_CUSTOMER_ID


def _spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "llmobserve-proxy"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for scope in ("llmobserve.proxy", "other"):
        tracer = provider.get_tracer(scope, "1.0")
        for index in range(60):
            attributes: dict[str, object] = {
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": index,
                "llmobserve.cost.usd": 0.000125,
                "note": f"{LLMOBSERVE_CUSTOMER_ID} in a value is not a tag",
            }
            if index % 7:  # some spans carry no customer id
                attributes[LLMOBSERVE_CUSTOMER_ID] = ("latency", "spans-1000", "é" * 40)[index % 3]
            tracer.start_span(f"chat {index}", attributes=attributes).end()
    return list(memory.get_finished_spans())


def _parsed(body: bytes) -> Counter[str]:
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    found: Counter[str] = Counter()
    for resource_spans in message.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                for attribute in span.attributes:
                    if attribute.key == LLMOBSERVE_CUSTOMER_ID:
                        found[attribute.value.string_value] += 1
    return found


def _ours(spans: list[ReadableSpan]) -> bytes:
    encoder = SpanEncoder()
    return encoder.join([encoder.encode_span(span) for span in spans])


@pytest.mark.parametrize("encode", [_ours, lambda s: encode_spans(s).SerializeToString()])
def test_sink_tags_counts_what_a_full_parse_counts(encode):
    body = encode(_spans())
    counted = tags(body)
    assert counted == _parsed(body)
    assert sum(counted.values()) == 2 * 51
    assert set(counted) == {"latency", "spans-1000", "é" * 40}
