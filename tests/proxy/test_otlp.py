"""`proxy.otlp.SpanEncoder` writes exactly the bytes the stock OTLP encoder would."""

from __future__ import annotations

import gzip
import http.server
import threading
from typing import ClassVar

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, StatusCode

from proxy.otlp import FastOTLPExporter, SpanEncoder, fast_exporter
from proxy.spans import SpanStarter

PARENT = extract({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
VALUES = {
    "text": "chat gpt-4o-mini",
    "unicode": "caf\u00e9 \u2603",
    "empty": "",
    "zero": 0,
    "count": 12,
    "big": 2**40,
    "negative": -5,
    "true": True,
    "false": False,
    "cost": 6e-06,
    "float_zero": 0.0,
    "bytes": b"\x00\xff",
    "strings": ("a", "b"),
    "numbers": (1, 2, 3),
    "long": "x" * 300,
}


def _spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "llmobserve-proxy"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    other = TracerProvider(resource=Resource.create({"service.name": "other"}, "https://s/1"))
    other.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("llmobserve.proxy", "0.1.0", schema_url="https://schema/1")
    state = extract(
        {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "vendor=value,other=1",
        }
    )
    link = Link(tracer.start_span("linked").get_span_context(), {"link.attr": 1})

    span = tracer.start_span("chat", context=PARENT, kind=SpanKind.CLIENT, attributes=VALUES)
    span.set_status(StatusCode.ERROR, "provider answered 429: rate_limit_exceeded")
    try:
        raise ValueError("bad")
    except ValueError as exc:
        span.record_exception(exc)
    span.end()
    root = tracer.start_span("root", kind=SpanKind.SERVER, links=[link])
    root.set_status(StatusCode.OK)
    root.end()
    tracer.start_span("state", context=state, kind=SpanKind.PRODUCER).end()
    other.get_tracer("second").start_span("in another resource").end()
    tracer.start_span("no attributes", kind=SpanKind.CONSUMER).end()
    call = SpanStarter(tracer).start("chat gpt-4o-mini", PARENT, SpanKind.CLIENT, dict(VALUES))
    call.end()
    return list(exporter.get_finished_spans())


def test_span_encoder_writes_the_stock_encoders_bytes():
    spans = _spans()
    encoder = SpanEncoder()
    expected = encode_spans(spans).SerializePartialToString()
    assert encoder.encode(spans) == expected
    assert encoder.encode(spans) == expected  # again, from its caches


def test_span_encoder_writes_each_span_alone_as_the_stock_encoder_does():
    encoder = SpanEncoder()
    for span in _spans():
        assert encoder.encode([span]) == encode_spans([span]).SerializePartialToString()


def test_span_encoder_drops_only_an_attribute_it_cannot_encode():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = SpanStarter(provider.get_tracer("t")).start("chat", PARENT, SpanKind.CLIENT, {})
    span.set_attributes({"fine": 1, "odd": object(), "also fine": "yes"})  # type: ignore[dict-item]
    span.end()
    encoded = SpanEncoder().encode(exporter.get_finished_spans())
    assert b"also fine" in encoded and b"odd" not in encoded


def test_span_encoder_encodes_an_empty_batch_as_an_empty_request():
    assert SpanEncoder().encode([]) == encode_spans([]).SerializePartialToString() == b""


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.bodies.append((self.headers.get("Content-Encoding", ""), self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_fast_exporter_posts_the_stock_bytes_with_the_exporters_own_settings():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies.clear()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        stock = OTLPSpanExporter(endpoint=url, compression=Compression.Gzip)
        exporter = fast_exporter(stock)
        assert isinstance(exporter, FastOTLPExporter)
        spans = _spans()
        assert exporter.export(spans) is SpanExportResult.SUCCESS
        exporter.shutdown()
        assert exporter.export(spans) is SpanExportResult.FAILURE
    finally:
        server.shutdown()
        server.server_close()
    ((encoding, body),) = _Receiver.bodies
    assert encoding == "gzip"
    assert gzip.decompress(body) == encode_spans(spans).SerializePartialToString()


def test_fast_exporter_leaves_other_exporters_as_they_are():
    console = ConsoleSpanExporter()
    assert fast_exporter(console) is console


def test_span_encoder_joins_spans_encoded_one_at_a_time_into_the_stock_bytes():
    spans = _spans()
    encoder = SpanEncoder()
    encoded = [encoder.encode_span(span) for span in spans]
    assert encoder.join(encoded) == encode_spans(spans).SerializePartialToString()
    reordered = encoded[::-1]  # groups follow first appearance, as the stock encoder's
    assert encoder.join(reordered) == encode_spans(spans[::-1]).SerializePartialToString()


def test_span_encoder_leaves_a_span_it_cannot_encode_to_the_stock_encoder(monkeypatch):
    spans = _spans()
    encoder = SpanEncoder()

    def broken(span: ReadableSpan) -> bytes:
        raise ValueError("encoder bug")

    monkeypatch.setattr(encoder, "_span", broken)
    encoded = [encoder.encode_span(span) for span in spans]
    assert encoder.join(encoded) == encode_spans(spans).SerializePartialToString()


def test_fast_exporter_exports_encoded_spans_and_keeps_the_size_limit(caplog):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies.clear()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        exporter = FastOTLPExporter(OTLPSpanExporter(endpoint=url))
        spans = _spans()
        encoded = [exporter.encode_span(span) for span in spans]
        assert exporter.export_encoded(encoded) is SpanExportResult.SUCCESS
        small = FastOTLPExporter(OTLPSpanExporter(endpoint=url, max_request_size=64))
        assert small.export_encoded(encoded) is SpanExportResult.FAILURE
        assert "exceeds max_request_size" in caplog.text
        exporter.shutdown()
        assert exporter.export_encoded(encoded) is SpanExportResult.FAILURE
    finally:
        server.shutdown()
        server.server_close()
    ((_, body),) = _Receiver.bodies
    assert body == encode_spans(spans).SerializePartialToString()
