"""`CallSpan` exports what the SDK's own span would, for what the proxy does with a span."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode

from proxy.spans import CallSpan, SpanStarter, global_starter

PARENT = extract({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
START = {"server.address": "api.openai.com", "server.port": 443, "gen_ai.request.model": "m"}
END = {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.cost": 6e-06, "llmobserve.cost.model": "m"}


def _provider(**kwargs: object) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**kwargs)  # type: ignore[arg-type]
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _exercise(span: trace.Span) -> None:
    span.set_attributes(END)
    span.set_attribute("error.type", "upstream_timeout")
    span.set_status(Status(StatusCode.ERROR, "no byte from upstream"))
    try:
        raise TimeoutError("upstream")
    except TimeoutError as exc:
        span.record_exception(exc)
    span.end()


def _shape(span: ReadableSpan) -> dict[str, object]:
    return {
        "name": span.name,
        "kind": span.kind,
        "trace_id": span.context.trace_id if span.context else None,
        "sampled": span.context.trace_flags.sampled if span.context else None,
        "parent": span.parent,
        "attributes": dict(span.attributes or {}),
        "status": (span.status.status_code, span.status.description),
        "events": [(e.name, sorted(e.attributes or {})) for e in span.events],
        "links": list(span.links),
        "resource": span.resource,
        "scope": span.instrumentation_scope,
        "dropped": span.dropped_attributes,
    }


def test_call_span_exports_what_the_sdk_span_would():
    provider, exporter = _provider()
    tracer = provider.get_tracer("llmobserve.proxy", "0.1.0")
    _exercise(tracer.start_span("chat m", context=PARENT, kind=SpanKind.CLIENT, attributes=START))
    span = SpanStarter(tracer).start("chat m", PARENT, SpanKind.CLIENT, dict(START))
    assert isinstance(span, CallSpan)
    _exercise(span)
    stock, ours = exporter.get_finished_spans()
    assert _shape(ours) == _shape(stock)
    assert ours.context.span_id != stock.context.span_id
    assert ours.start_time is not None and ours.end_time is not None


def test_call_span_starts_a_trace_without_a_parent():
    provider, exporter = _provider()
    span = SpanStarter(provider.get_tracer("t")).start("chat", Context(), SpanKind.CLIENT, {})
    span.end()
    (exported,) = exporter.get_finished_spans()
    assert exported.parent is None and exported.context.trace_id != 0


def test_span_starter_records_nothing_when_the_sampler_drops_the_span():
    provider, exporter = _provider(sampler=ALWAYS_OFF)
    span = SpanStarter(provider.get_tracer("t")).start("chat", PARENT, SpanKind.CLIENT, {})
    assert isinstance(span, NonRecordingSpan)
    assert span.get_span_context().trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    span.end()
    assert exporter.get_finished_spans() == ()


def test_span_starter_uses_the_tracers_own_span_for_a_tracer_that_is_not_the_sdks():
    span = SpanStarter(trace.NoOpTracer()).start("chat", PARENT, SpanKind.CLIENT, {})
    assert not isinstance(span, CallSpan)
    assert not span.is_recording()


def test_call_span_applies_configured_attribute_limits():
    limits = SpanLimits(max_span_attributes=2, max_span_attribute_length=3)
    provider, exporter = _provider(span_limits=limits)
    span = SpanStarter(provider.get_tracer("t")).start("chat", PARENT, SpanKind.CLIENT, dict(START))
    span.end()
    (exported,) = exporter.get_finished_spans()
    assert dict(exported.attributes or {}) == {"server.port": 443, "gen_ai.request.model": "m"}
    assert exported.dropped_attributes == 1


def test_call_span_is_read_only_once_ended():
    provider, exporter = _provider()
    span = SpanStarter(provider.get_tracer("t")).start("chat", PARENT, SpanKind.CLIENT, {})
    span.set_status(StatusCode.OK)
    span.set_status(StatusCode.ERROR, "ignored: OK is final")
    span.end()
    span.set_attribute("late", 1)
    span.end()
    (exported,) = exporter.get_finished_spans()
    assert exported.status.status_code is StatusCode.OK
    assert "late" not in (exported.attributes or {})


def test_validating_span_cleans_user_values_and_links_as_the_sdk_does():
    provider, exporter = _provider()
    tracer = provider.get_tracer("llmobserve", "0.1.0")
    user = {"list": [1, 2], "none": None, "text": "t", "flag": True}
    link = trace.get_current_span(PARENT).get_span_context()
    stock = tracer.start_span("section", context=PARENT, attributes=user)
    ours = SpanStarter(tracer, validate=True).start("section", PARENT, SpanKind.INTERNAL, user)
    for span in (stock, ours):
        span.set_attribute("later", ["a", "b"])
        span.add_link(link, {"why": "retry"})
        span.end()
    stock_span, our_span = exporter.get_finished_spans()
    assert _shape(our_span) == _shape(stock_span) | {"links": _shape(our_span)["links"]}
    assert [(lk.context, dict(lk.attributes or {})) for lk in our_span.links] == [
        (lk.context, dict(lk.attributes or {})) for lk in stock_span.links
    ]


def test_global_starter_follows_the_global_provider(monkeypatch):
    provider, exporter = _provider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    span = global_starter("llmobserve", "0.1.0").start("s", Context(), SpanKind.INTERNAL, {})
    span.end()
    assert [s.name for s in exporter.get_finished_spans()] == ["s"]
    assert global_starter("llmobserve", "0.1.0") is global_starter("llmobserve", "0.1.0")


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        None,
    ],
    ids=["parent-sampled", "parent-not-sampled", "root"],
)
@pytest.mark.parametrize("sampler", [None, ParentBased(ALWAYS_ON), TraceIdRatioBased(1.0)])
def test_span_starter_decides_as_the_tracers_sampler(
    traceparent: str | None, sampler: Sampler | None
) -> None:
    # The default sampler is decided without the SDK's machinery: same answers, same state.
    carrier = {"traceparent": traceparent, "tracestate": "vendor=a"} if traceparent else {}
    context = extract(carrier)
    provider, _ = _provider(**({"sampler": sampler} if sampler else {}))
    tracer = provider.get_tracer("t")
    stock = tracer.start_span("chat", context=context, kind=SpanKind.CLIENT, attributes=START)
    ours = SpanStarter(tracer).start("chat", context, SpanKind.CLIENT, dict(START))
    assert type(ours) is CallSpan or type(ours) is type(stock)
    assert ours.is_recording() == stock.is_recording()
    mine, theirs = ours.get_span_context(), stock.get_span_context()
    assert (mine.trace_flags, mine.trace_state) == (theirs.trace_flags, theirs.trace_state)
    if traceparent:
        assert mine.trace_id == theirs.trace_id
    if ours.is_recording():
        assert isinstance(ours, CallSpan)
        assert dict(ours.attributes or {}) == dict(START)
