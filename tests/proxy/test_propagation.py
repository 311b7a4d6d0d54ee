"""The hand-rolled `traceparent` path answers what OpenTelemetry's propagators answer."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.baggage import get_all
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy.propagation import Propagation, inject

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
DEFAULT = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])

TRACEPARENTS = [
    f"00-{TRACE_ID}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID}-00",
    f"  00-{TRACE_ID}-{SPAN_ID}-01\t",
    f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 allows nothing after the flags
    f"01-{TRACE_ID}-{SPAN_ID}-01-extra",  # a later version may add fields
    f"ff-{TRACE_ID}-{SPAN_ID}-01",
    f"00-{'0' * 32}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{'0' * 16}-01",
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",
    f"00-{TRACE_ID}-{SPAN_ID}",
    "garbage",
    "",
]


def parent(context) -> SpanContext:
    return trace.get_current_span(context).get_span_context()


@pytest.mark.parametrize("value", TRACEPARENTS)
@pytest.mark.parametrize(
    "propagator", [DEFAULT, TraceContextTextMapPropagator()], ids=["default", "tracecontext"]
)
def test_extract_matches_the_propagator_for_a_lone_traceparent(
    propagator: TextMapPropagator, value: str
) -> None:
    carrier = {"traceparent": value, "x-llmobserve-customer-id": "acme"}
    ours = Propagation(propagator).extract(carrier)
    theirs = propagator.extract(carrier)
    assert parent(ours) == parent(theirs)
    assert parent(ours).is_remote == parent(theirs).is_remote
    assert dict(get_all(ours)) == dict(get_all(theirs))


def test_extract_without_a_traceparent_answers_an_empty_context() -> None:
    assert parent(Propagation(DEFAULT).extract({})) == parent(DEFAULT.extract({}))


@pytest.mark.parametrize(
    "extra", [{"tracestate": "vendor=1"}, {"baggage": "customer_id=acme"}], ids=str
)
def test_extract_leaves_tracestate_and_baggage_to_the_propagator(extra: dict[str, str]) -> None:
    carrier = {"traceparent": TRACEPARENTS[0], **extra}
    ours = Propagation(DEFAULT).extract(carrier)
    theirs = DEFAULT.extract(carrier)
    assert parent(ours) == parent(theirs)
    assert parent(ours).trace_state == parent(theirs).trace_state
    assert dict(get_all(ours)) == dict(get_all(theirs))


def test_extract_uses_any_other_configured_propagator() -> None:
    class Custom(TextMapPropagator):
        def extract(self, carrier, context=None, getter=None):  # type: ignore[no-untyped-def]
            return trace.set_span_in_context(NonRecordingSpan(CUSTOM))

        def inject(self, carrier, context=None, setter=None) -> None:  # type: ignore[no-untyped-def]
            pass

        @property
        def fields(self) -> set[str]:
            return set()

    propagator = CompositePropagator([TraceContextTextMapPropagator(), Custom()])
    assert parent(Propagation(propagator).extract({"traceparent": TRACEPARENTS[0]})) == CUSTOM


CUSTOM = SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1))


@pytest.mark.parametrize(
    "context",
    [
        SpanContext(int(TRACE_ID, 16), int(SPAN_ID, 16), False, TraceFlags(1)),
        SpanContext(1, 2, False, TraceFlags(0), TraceState([("vendor", "a=1")])),
        trace.INVALID_SPAN_CONTEXT,
    ],
)
def test_inject_writes_what_the_tracecontext_propagator_writes(context: SpanContext) -> None:
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(
        carrier, context=trace.set_span_in_context(NonRecordingSpan(context))
    )
    assert dict(inject(NonRecordingSpan(context))) == carrier
