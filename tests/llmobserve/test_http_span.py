"""The HTTP CLIENT span helpers shared by the patched clients."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from llmobserve._http_span import end_http_span, own_starter, redacted_url, start_http_span
from proxy.spans import CallSpan
from semconv import HTTP_RESPONSE_STATUS_CODE, SERVER_PORT, URL_FULL


def _provider(monkeypatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    return exporter


def test_own_starter_follows_the_global_provider_and_is_cached(monkeypatch):
    first = _provider(monkeypatch)
    own_starter("llmobserve.http", "0.1.0").start("a", Context(), SpanKind.CLIENT, {}).end()
    assert own_starter("llmobserve.http", "0.1.0") is own_starter("llmobserve.http", "0.1.0")
    second = _provider(monkeypatch)
    own_starter("llmobserve.http", "0.1.0").start("b", Context(), SpanKind.CLIENT, {}).end()
    assert [s.name for s in first.get_finished_spans()] == ["a"]
    assert [s.name for s in second.get_finished_spans()] == ["b"]
    (span,) = second.get_finished_spans()
    assert span.instrumentation_scope.name == "llmobserve.http"


def test_start_http_span_opens_a_lean_client_span_with_the_redacted_url(monkeypatch):
    exporter = _provider(monkeypatch)
    url = redacted_url("https", "generativelanguage.googleapis.com", "/v1beta/models", True)
    span = start_http_span("POST", "https", "generativelanguage.googleapis.com", None, url)
    assert isinstance(span, CallSpan)
    end_http_span(span, 200)
    (finished,) = exporter.get_finished_spans()
    assert finished.kind is SpanKind.CLIENT
    assert finished.attributes[URL_FULL] == (
        "https://generativelanguage.googleapis.com/v1beta/models?REDACTED"
    )
    assert finished.attributes[SERVER_PORT] == 443
    assert finished.attributes[HTTP_RESPONSE_STATUS_CODE] == 200
