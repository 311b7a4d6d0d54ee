"""Spans recorded cheaply and handed to the span processors as the SDK's own would be.

The SDK's `Span` re-validates each attribute under a lock and gives every span two bounded lists
(events, links), each with its own deque and lock: about 35 µs for a proxied call's ~25
attributes on the reference machine, and ~15 container objects per span that sit in the export
queue where the garbage collector scans them again and again (docs/benchmarks.md). `CallSpan`
keeps attributes in a plain dict - the proxy's are its own typed values - or, for spans whose
attributes come from users (SDK sections), in the SDK's `BoundedAttributes`; on `end()` it hands
*itself*, a `ReadableSpan`, to the processors, as `Span.end()` hands them its snapshot.

What the tracer is configured with is honoured as `Tracer.start_span` does it: enabled or not,
sampler, id generator, resource, instrumentation scope, span processors (`on_start`,
`_on_ending`, `on_end`) and span limits. `SpanStarter` falls back to the tracer's own spans for
any tracer that is not the SDK's.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from time import time_ns

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

log = logging.getLogger(__name__)

_UNSET = Status(StatusCode.UNSET)
# Semantic-convention names of the `exception` event (as the SDK's `record_exception`).
_EXCEPTION_TYPE = "exception.type"
_EXCEPTION_MESSAGE = "exception.message"
_EXCEPTION_STACKTRACE = "exception.stacktrace"
_EXCEPTION_ESCAPED = "exception.escaped"


class CallSpan(trace_api.Span, ReadableSpan):
    """A recording span whose attributes are a plain dict; read-only once ended."""

    def __init__(
        self,
        tracer: sdk_trace.Tracer,
        name: str,
        *,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: Mapping[str, types.AnyValue],
        limits: SpanLimits,
        validate: bool,
    ) -> None:
        store: dict[str, types.AnyValue] | BoundedAttributes = (
            BoundedAttributes(
                limits.max_span_attributes,
                attributes,
                immutable=False,
                max_value_len=limits.max_span_attribute_length,
            )
            if validate
            else dict(attributes)
        )
        ReadableSpan.__init__(
            self,
            name=name,
            context=context,
            parent=parent,
            resource=tracer.resource,
            attributes=store,
            events=[],
            links=[],
            kind=kind,
            instrumentation_info=tracer.instrumentation_info,
            status=_UNSET,
            start_time=time_ns(),
            instrumentation_scope=tracer._instrumentation_scope,
        )
        self._processor = tracer.span_processor
        self._limits = limits

    # opentelemetry.trace.Span
    def get_span_context(self) -> SpanContext:
        context = self._context
        assert context is not None
        return context

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end_time is None:
            self._attributes[key] = value  # type: ignore[index]
        else:
            log.warning("Setting attribute on ended span.")

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self._end_time is None:
            self._attributes.update(attributes)  # type: ignore[union-attr]
        else:
            log.warning("Setting attribute on ended span.")

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: an OK status is final, UNSET is never set.
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end_time is not None or len(self._events) >= (self._limits.max_events or 128):
            return
        bounded = BoundedAttributes(
            self._limits.max_event_attributes,
            attributes,
            max_value_len=self._limits.max_attribute_length,
            immutable=True,
        )
        self._events.append(Event(name, bounded, timestamp))  # type: ignore[attr-defined]

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        # As the SDK: a link needs a valid context, or attributes or a trace state to say why.
        if self._end_time is not None or not (
            context and (context.is_valid or attributes or context.trace_state)
        ):
            return
        if len(self._links) >= (self._limits.max_links or 128):
            return
        bounded = BoundedAttributes(
            self._limits.max_link_attributes,
            attributes,
            max_value_len=self._limits.max_attribute_length,
            immutable=True,
        )
        self._links.append(Link(context, bounded))  # type: ignore[attr-defined]

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        event: dict[str, types.AnyValue] = {
            _EXCEPTION_TYPE: f"{module}.{qualname}"
            if module and module != "builtins"
            else qualname,
            _EXCEPTION_MESSAGE: str(exception),
            _EXCEPTION_STACKTRACE: "".join(traceback.format_exception(exception)),
            _EXCEPTION_ESCAPED: str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            log.warning("Calling end() on an ended span.")
            return
        self._end_time = end_time if end_time is not None else time_ns()
        self._events = tuple(self._events)
        self._links = tuple(self._links)
        attributes, limits = self._attributes, self._limits
        if isinstance(attributes, dict) and (
            limits.max_span_attribute_length is not None
            or len(attributes) > (limits.max_span_attributes or len(attributes))
        ):
            # Limits configured (OTEL_SPAN_ATTRIBUTE_*_LIMIT): apply them as the SDK would.
            self._attributes = BoundedAttributes(
                limits.max_span_attributes,
                attributes,
                immutable=True,
                max_value_len=limits.max_span_attribute_length,
            )
        on_ending = getattr(self._processor, "_on_ending", None)  # the SDK's hook, if any
        if on_ending is not None:
            on_ending(self)
        self._processor.on_end(self)


class SpanStarter:
    """Starts spans on one tracer: `CallSpan` for the SDK's, the tracer's own otherwise."""

    def __init__(self, tracer: trace_api.Tracer, *, validate: bool = False) -> None:
        """`validate`: attribute values may come from users, so clean and bound them as the
        SDK does (its `BoundedAttributes`); otherwise they are kept as given."""
        self._tracer = tracer
        self._validate = validate
        self._sdk: sdk_trace.Tracer | None = None
        self._default_sampler: Sampler | None = None
        self._limits = SpanLimits()
        if isinstance(tracer, sdk_trace.Tracer) and all(
            hasattr(tracer, name)
            for name in ("_instrumentation_scope", "_span_limits", "_is_enabled")
        ):
            self._sdk = tracer
            if _is_default_sampler(tracer.sampler):
                self._default_sampler = tracer.sampler
            limits = tracer._span_limits
            self._limits = limits if isinstance(limits, SpanLimits) else SpanLimits()

    def start(
        self,
        name: str,
        context: Context,
        kind: SpanKind,
        attributes: dict[str, types.AnyValue],
    ) -> trace_api.Span:
        tracer = self._sdk
        if tracer is None:
            return self._tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        parent: SpanContext | None = trace_api.get_current_span(context).get_span_context()
        if not tracer._is_enabled():
            return trace_api.NonRecordingSpan(parent or trace_api.INVALID_SPAN_CONTEXT)
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = tracer.id_generator.generate_trace_id()
            random_trace_id = tracer.id_generator.is_trace_id_random()
        else:
            trace_id = parent.trace_id
            random_trace_id = parent.trace_flags.random_trace_id
        if tracer.sampler is self._default_sampler:
            # ParentBased(ALWAYS_ON), decided as it decides (opentelemetry.sdk.trace.sampling)
            # without building its SamplingResult: follow a valid parent, sample roots.
            sampled_flag = record = parent is None or parent.trace_flags.sampled
            trace_state = parent.trace_state if parent is not None else None
            kept: Mapping[str, types.AnyValue] = attributes
        else:
            links: Sequence[Link] = ()
            sampled = tracer.sampler.should_sample(context, trace_id, name, kind, attributes, links)
            sampled_flag = sampled.decision.is_sampled()  # type: ignore[no-untyped-call]
            record = sampled.decision.is_recording()  # type: ignore[no-untyped-call]
            trace_state = sampled.trace_state
            kept = sampled.attributes
        flags = TraceFlags.SAMPLED if sampled_flag else TraceFlags.DEFAULT
        if random_trace_id:
            flags |= TraceFlags.RANDOM_TRACE_ID
        span_context = SpanContext(
            trace_id,
            tracer.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=trace_state,
        )
        if not record:
            return trace_api.NonRecordingSpan(span_context)
        span = CallSpan(
            tracer,
            name,
            context=span_context,
            parent=parent,
            kind=kind,
            attributes=kept,
            limits=self._limits,
            validate=self._validate,
        )
        tracer.span_processor.on_start(span, parent_context=context)  # type: ignore[arg-type]
        return span


def _is_default_sampler(sampler: Sampler) -> bool:
    """The SDK's default, `ParentBased(ALWAYS_ON)` with its default delegates."""
    delegates = {
        "_root": ALWAYS_ON,
        "_remote_parent_sampled": ALWAYS_ON,
        "_remote_parent_not_sampled": ALWAYS_OFF,
        "_local_parent_sampled": ALWAYS_ON,
        "_local_parent_not_sampled": ALWAYS_OFF,
    }
    return type(sampler) is ParentBased and all(
        getattr(sampler, name, None) is delegate for name, delegate in delegates.items()
    )


_GLOBAL: dict[tuple[str, str], tuple[trace_api.TracerProvider, SpanStarter]] = {}


def global_starter(name: str, version: str) -> SpanStarter:
    """The validating `SpanStarter` of the global provider's tracer `name` (the SDK's spans),
    made again when the global provider changes: `trace.get_tracer` builds a new tracer (and
    instrumentation scope) on every call."""
    provider = trace_api.get_tracer_provider()
    cached = _GLOBAL.get((name, version))
    if cached is None or cached[0] is not provider:
        cached = (provider, SpanStarter(provider.get_tracer(name, version), validate=True))
        _GLOBAL[(name, version)] = cached
    return cached[1]
