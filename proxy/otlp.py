"""OTLP/protobuf encoding of finished spans, written straight to bytes.

`encode_spans(spans)` returns, byte for byte, what the stock exporter sends -
`opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans(spans)`
`.SerializePartialToString()` (a test compares the two on every kind of span and value) -
without building a protobuf object per attribute. The stock encoder took about 80 µs for a
proxied call's span on the reference machine; this one takes a fraction of it
(docs/benchmarks.md). `SpanQueue` has each span encoded as it ends (`encode_span`) and its
export thread only `join`s the bytes, so that thread no longer holds the GIL the event loop
needs while it encodes a batch (docs/reliability.md).

Wire format: https://protobuf.dev/programming-guides/encoding/ ; messages:
opentelemetry-proto `collector/trace/v1/trace_service.proto`, `trace/v1/trace.proto`,
`common/v1/common.proto`, `resource/v1/resource.proto`. Fields are written in field-number
order and proto3 defaults are left out, as the protobuf runtime serialises them; values of a
`oneof` (AnyValue) are always written.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status

log = logging.getLogger(__name__)
_STOCK_LOG = logging.getLogger(OTLPSpanExporter.__module__)

_DOUBLE = struct.Struct("<d").pack
_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_SMALL = [bytes([n]) for n in range(128)]
_KIND = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
# Span.flags (trace.proto SpanFlags): "has is_remote" always, "is remote" for remote parents.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_KEY_VALUE_CACHE_SIZE = 4096
_SDK_METRICS = "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"
_CACHED = frozenset({str, int, bool, bytes, type(None)})


def _varint(value: int) -> bytes:
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2); `tag` is `field_number << 3 | 2`."""
    return _SMALL[tag] + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:  # noqa: PLR0911 - one return per AnyValue case
    """AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 array, 6 kvlist, 7 bytes."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(0x0A, value.encode("utf-8"))
    if isinstance(value, int):
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)  # int64: two's complement
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(0x3A, value)
    if isinstance(value, Sequence):
        return _field(0x2A, b"".join(_field(0x0A, _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        pairs = b"".join(_field(0x0A, _key_value(str(k), v)) for k, v in value.items())
        return _field(0x32, pairs)
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    return _field(0x0A, key.encode("utf-8")) + _field(0x12, _any_value(value))


class _Attributes:
    """Encodes attribute maps; remembers the KeyValue bytes of recurring scalar pairs
    (provider, host, method, model, status: most of a proxied call's attributes)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, type, object], bytes] = {}

    def encode(self, tag: int, attributes: Mapping[str, Any] | None) -> list[bytes]:
        if not attributes:
            return []
        cache = self._cache
        out = []
        for key, value in attributes.items():
            kind = type(value)
            if kind not in _CACHED:  # floats (costs) rarely recur; containers are unhashable
                encoded = _encoded_or_none(tag, key, value)
                if encoded is not None:
                    out.append(encoded)
                continue
            cache_key = (key, kind, value)
            encoded = cache.get(cache_key)
            if encoded is None:
                if len(cache) >= _KEY_VALUE_CACHE_SIZE:
                    cache.clear()
                encoded = cache[cache_key] = _field(tag, _key_value(key, value))
            out.append(encoded)
        return out


def _encoded_or_none(tag: int, key: str, value: Any) -> bytes | None:
    try:
        return _field(tag, _key_value(key, value))
    except Exception:  # as the stock encoder: log, and drop that attribute only
        log.exception("Failed to encode key %s", key)
        return None


def _flags(context: SpanContext | None) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if context is not None and context.is_remote else 0)
    return b"\x85\x01" + _FIXED32(flags)  # field 16, wire type 5


def _status(status: Status | None) -> bytes:
    if status is None:
        return b""
    payload = b""
    if status.description:
        payload += _field(0x12, status.description.encode("utf-8"))
    code = status.status_code.value
    if code:
        payload += b"\x18" + _varint(code)
    return _field(0x7A, payload)


EncodedSpan = tuple[Resource, InstrumentationScope | None, bytes]
"""A span's `Span` message (field 2 of `ScopeSpans`), with its resource and scope."""


def _group(
    groups: list[tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]],
    resource: Resource,
    scope: InstrumentationScope | None,
) -> list[bytes]:
    """The list a span of `resource` and `scope` goes in, added if new. Equal resources (and
    scopes) share one, as they share a dict key in the stock encoder; identity is tried first
    because equality hashes JSON."""
    scopes = next((g for r, g in groups if r is resource), None)
    if scopes is None:
        scopes = next((g for r, g in groups if r == resource), None)
        if scopes is None:
            scopes = []
            groups.append((resource, scopes))
    found = next((b for s, b in scopes if s is scope), None)
    if found is None:
        found = next((b for s, b in scopes if s == scope), None)
        if found is None:
            found = []
            scopes.append((scope, found))
    return found


def _stock_span(span: ReadableSpan) -> bytes:
    """`span` as the stock encoder writes it (raises what it raises)."""
    request = encode_spans([span])
    message = request.resource_spans[0].scope_spans[0].spans[0]
    return _field(0x12, message.SerializePartialToString())


class SpanEncoder:
    """`ExportTraceServiceRequest` bytes for a batch of spans; one per exporter (it caches the
    encoding of resources, scopes and recurring attributes)."""

    def __init__(self) -> None:
        self._attributes = _Attributes()
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        return self.join([self.encode_span(span) for span in spans])

    def encode_span(self, span: ReadableSpan) -> EncodedSpan:
        """One span's bytes, with what `join` groups them by. Costs the same as encoding the
        span in a batch; done as the span ends, the export thread only has to `join`."""
        try:
            data = self._span(span)
        except Exception:
            log.exception("OTLP encoding of a span failed; the stock encoder takes it")
            data = _stock_span(span)
        return span.resource, span.instrumentation_scope or None, data

    def join(self, encoded: Sequence[EncodedSpan]) -> bytes:
        """The `ExportTraceServiceRequest` of spans from `encode_span`."""
        # Grouped as the stock encoder groups them: by resource, then scope, first seen first.
        groups: list[tuple[Resource, list[tuple[InstrumentationScope | None, list[bytes]]]]] = []
        last: tuple[Resource | None, InstrumentationScope | None, list[bytes]] = (None, None, [])
        for resource, scope, data in encoded:
            if resource is not last[0] or scope is not last[1]:
                last = (resource, scope, _group(groups, resource, scope))
            last[2].append(data)
        out = []
        for resource, scopes in groups:
            scope_spans = b"".join(
                _field(0x12, self._scope(scope) + b"".join(spans) + _schema(scope))
                for scope, spans in scopes
            )
            body = self._resource(resource) + scope_spans + _schema(resource)
            out.append(_field(0x0A, body))
        return b"".join(out)

    def _resource(self, resource: Resource) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        encoded = _field(0x0A, b"".join(self._attributes.encode(0x0A, resource.attributes)))
        if len(self._resources) > 64:
            self._resources.clear()
        self._resources[id(resource)] = (resource, encoded)
        return encoded

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        cached = self._scopes.get(id(scope))
        if cached is not None and cached[0] is scope:
            return cached[1]
        payload = b""
        if scope is not None:
            if scope.name:
                payload += _field(0x0A, scope.name.encode("utf-8"))
            if scope.version:
                payload += _field(0x12, scope.version.encode("utf-8"))
            payload += b"".join(self._attributes.encode(0x1A, scope.attributes))
        encoded = _field(0x0A, payload)
        if len(self._scopes) > 64:
            self._scopes.clear()
        self._scopes[id(scope)] = (scope, encoded)
        return encoded

    def _span(self, span: ReadableSpan) -> bytes:
        context = span.get_span_context()
        assert context is not None
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        if context.trace_state:
            state = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
            parts.append(_field(0x1A, state.encode("utf-8")))
        parent = span.parent
        if parent:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        if span.name:
            parts.append(_field(0x2A, span.name.encode("utf-8")))
        parts.append(b"\x30" + _SMALL[_KIND[span.kind]])
        if span.start_time:
            parts.append(b"\x39" + _FIXED64(span.start_time))
        if span.end_time:
            parts.append(b"\x41" + _FIXED64(span.end_time))
        parts += self._attributes.encode(0x4A, span.attributes)
        if span.dropped_attributes:
            parts.append(b"\x50" + _varint(span.dropped_attributes))
        parts += [_field(0x5A, self._event(e)) for e in span.events]
        if span.dropped_events:
            parts.append(b"\x60" + _varint(span.dropped_events))
        parts += [_field(0x6A, self._link(link)) for link in span.links]
        if span.dropped_links:
            parts.append(b"\x70" + _varint(span.dropped_links))
        parts.append(_status(span.status))
        parts.append(_flags(parent))
        return _field(0x12, b"".join(parts))

    def _event(self, event: Event) -> bytes:
        parts = []
        if event.timestamp:
            parts.append(b"\x09" + _FIXED64(event.timestamp))
        if event.name:
            parts.append(_field(0x12, event.name.encode("utf-8")))
        parts += self._attributes.encode(0x1A, event.attributes)
        if event.dropped_attributes:
            parts.append(b"\x20" + _varint(event.dropped_attributes))
        return b"".join(parts)

    def _link(self, link: Link) -> bytes:
        context = link.context
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        parts += self._attributes.encode(0x22, link.attributes)
        if link.dropped_attributes:
            parts.append(b"\x28" + _varint(link.dropped_attributes))
        parts.append(b"\x35" + _FIXED32(_HAS_IS_REMOTE | (_IS_REMOTE if context.is_remote else 0)))
        return b"".join(parts)


def _schema(item: Resource | InstrumentationScope | None) -> bytes:
    url = getattr(item, "schema_url", None)
    return _field(0x1A, url.encode("utf-8")) if url else b""


class FastOTLPExporter(SpanExporter):
    """An OTLP/HTTP span exporter whose batches are encoded by `SpanEncoder`.

    Everything else is the wrapped `OTLPSpanExporter`'s - endpoint, headers, compression, TLS,
    timeout, retries (its HTTP client sends the bytes), size limit and shutdown. Made by
    `fast_exporter`, which wraps only the exporter class this was tested against.
    """

    def __init__(self, exporter: OTLPSpanExporter) -> None:
        self._exporter = exporter
        self._encoder = SpanEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._exporter._shutdown:
            return self._exporter.export(spans)  # it logs and refuses
        try:
            data = self._encoder.encode(spans)
        except Exception:
            log.exception("OTLP encoding failed; the stock encoder takes this batch")
            return self._exporter.export(spans)
        return self._send(data)

    def encode_span(self, span: ReadableSpan) -> EncodedSpan:
        """Encode one span now (`SpanQueue` does it as the span ends), for `export_encoded`."""
        return self._encoder.encode_span(span)

    def export_encoded(self, batch: Sequence[EncodedSpan]) -> SpanExportResult:
        """`export` of spans already encoded by `encode_span`."""
        if self._exporter._shutdown:
            return self._exporter.export([])  # it logs and refuses
        return self._send(self._encoder.join(batch))

    def _send(self, data: bytes) -> SpanExportResult:
        exporter = self._exporter
        limit = exporter._max_request_size
        if 0 < limit < len(data):
            # As the stock exporter: the batch is dropped, with its warning (same logger).
            _STOCK_LOG.warning(
                "Dropping span batch: serialized size %d bytes exceeds max_request_size %d bytes.",
                len(data),
                limit,
            )
            return SpanExportResult.FAILURE
        result = exporter._client.export(data)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._exporter.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def fast_exporter(exporter: SpanExporter) -> SpanExporter:
    """`exporter` encoding with `SpanEncoder` when it is the stock OTLP/HTTP exporter (and the
    SDK's own metrics, which only its `export` records, are off); otherwise `exporter`."""
    if (
        type(exporter) is OTLPSpanExporter
        and all(hasattr(exporter, a) for a in ("_client", "_shutdown", "_max_request_size"))
        and os.environ.get(_SDK_METRICS, "").strip().lower() != "true"
    ):
        return FastOTLPExporter(exporter)
    return exporter
