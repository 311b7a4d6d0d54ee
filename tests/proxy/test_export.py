"""`proxy.export.SpanQueue` with the proxy's OTLP exporter: spans are encoded as they end, so
the queue holds bytes and the export thread only joins and sends them."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from llmobserve._servers import free_port
from proxy.export import SpanQueue
from proxy.otlp import EncodedSpan, FastOTLPExporter
from proxy.spans import SpanStarter
from semconv import GEN_AI_REQUEST_MODEL

PARENT = extract({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})


class GatedOTLPExporter(FastOTLPExporter):
    """The proxy's exporter, with sending replaced: holds each batch until `gate` is set and
    keeps the request bytes it would have posted."""

    def __init__(self) -> None:
        super().__init__(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{free_port()}/v1/traces"))
        self.gate = threading.Event()
        self.encoded = 0
        self.requests: list[bytes] = []
        self.suppressed: list[object] = []

    def encode_span(self, span: ReadableSpan) -> EncodedSpan:
        self.encoded += 1
        return super().encode_span(span)

    def export_encoded(self, batch: Sequence[EncodedSpan]) -> SpanExportResult:
        self.suppressed.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        self.gate.wait()
        self.requests.append(self._encoder.join(batch))
        return SpanExportResult.SUCCESS


@pytest.fixture
def gated() -> Iterator[tuple[GatedOTLPExporter, TracerProvider]]:
    exporter = GatedOTLPExporter()
    provider = TracerProvider()
    yield exporter, provider
    exporter.gate.set()
    provider.shutdown()


def call_span(provider: TracerProvider, index: int) -> ReadableSpan:
    span = SpanStarter(provider.get_tracer("llmobserve.proxy", "0.1.0")).start(
        f"chat {index}", PARENT, SpanKind.CLIENT, {GEN_AI_REQUEST_MODEL: "gpt-4o-mini"}
    )
    span.end()
    assert isinstance(span, ReadableSpan)
    return span


def test_span_queue_sends_the_stock_encoders_bytes_for_spans_encoded_as_they_end(gated):
    exporter, provider = gated
    queue = SpanQueue(exporter, max_export_batch_size=4, schedule_delay=0.01)
    provider.add_span_processor(queue)
    spans = [call_span(provider, i) for i in range(10)]
    exporter.gate.set()
    assert queue.force_flush(2000)
    assert exporter.encoded == 10
    assert b"".join(exporter.requests) == b"".join(
        encode_spans(spans[i : i + 4]).SerializePartialToString() for i in range(0, 10, 4)
    )


def test_span_queue_keeps_no_span_object_once_an_otlp_span_is_queued(gated):
    exporter, provider = gated
    queue = SpanQueue(exporter, max_queue_size=8, schedule_delay=60)
    provider.add_span_processor(queue)
    span = call_span(provider, 0)
    ended = weakref.ref(span)
    del span
    gc.collect()
    assert len(queue._queue) == 1
    assert ended() is None  # the queue holds its bytes, not the span and its attributes


def test_span_queue_does_not_encode_spans_it_drops(gated):
    exporter, provider = gated
    queue = SpanQueue(exporter, max_queue_size=4, max_export_batch_size=4, schedule_delay=60)
    provider.add_span_processor(queue)
    for i in range(4):
        call_span(provider, i)  # the worker takes these and blocks exporting them
    assert queue.force_flush(100) is False
    for i in range(10):
        call_span(provider, i)
    assert queue.dropped == 6
    assert exporter.encoded == 8


def test_span_queue_exports_with_instrumentation_suppressed(gated):
    exporter, provider = gated
    queue = SpanQueue(exporter, schedule_delay=0.01)
    provider.add_span_processor(queue)
    call_span(provider, 0)
    exporter.gate.set()
    assert queue.force_flush(2000)
    assert exporter.suppressed == [True]


class _PlainExporter(SpanExporter):
    def __init__(self) -> None:
        self.batches: list[Sequence[ReadableSpan]] = []
        self.suppressed: list[object] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.suppressed.append(get_value(_SUPPRESS_INSTRUMENTATION_KEY))
        self.batches.append(spans)
        return SpanExportResult.SUCCESS


def test_span_queue_hands_other_exporters_the_span_objects():
    exporter = _PlainExporter()
    provider = TracerProvider()
    provider.add_span_processor(SpanQueue(exporter, schedule_delay=0.01))
    span = call_span(provider, 0)
    provider.force_flush(2000)
    provider.shutdown()
    assert exporter.batches == [[span]]
    assert exporter.suppressed == [True]
