"""The HTTP CLIENT span llmobserve opens where no OpenTelemetry instrumentation does.

Used for aiohttp sessions created before `observe()` and for botocore. The span is the
parent the proxy's span points to (through the injected `traceparent`), so it carries the URL
the application asked for - the provider's, not the proxy's - without its query string.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from proxy.spans import SpanStarter
from semconv import (
    ERROR_TYPE,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_FULL,
)

TRACEPARENT = "traceparent"
_DEFAULT_PORTS = {"http": 80, "https": 443}


_STARTERS: dict[tuple[str, str], tuple[trace.TracerProvider, SpanStarter]] = {}


def own_starter(name: str, version: str) -> SpanStarter:
    """The global provider's tracer `name`, cached, starting lean spans (`proxy.spans`) that keep
    attribute values as given - for spans carrying only llmobserve's own typed values, as the
    proxy's do; sections, whose attributes come from users, use `global_starter`.

    Made again when the global provider changes: `trace.get_tracer` builds a new tracer (and
    instrumentation scope) on every call, and the SDK's `Span` validates every attribute under
    a lock - together ~20 µs of a direct-mode call's two spans (bench/sdk.py, in-memory pool).
    """
    provider = trace.get_tracer_provider()
    cached = _STARTERS.get((name, version))
    if cached is None or cached[0] is not provider:
        cached = (provider, SpanStarter(provider.get_tracer(name, version)))
        _STARTERS[(name, version)] = cached
    return cached[1]


def redacted_url(scheme: str, netloc: str, path: str, has_query: bool) -> str:
    # Query strings carry API keys for some providers (`?key=`): never put them on a span.
    base = f"{scheme}://{netloc}{path}"
    return f"{base}?REDACTED" if has_query else base


def start_http_span(method: str, scheme: str, host: str, port: int | None, url: str) -> Span | None:
    """Open the CLIENT span for one request, or None when HTTP instrumentation is suppressed
    (for example inside an exporter, or inside another instrumentation's span)."""
    if not is_http_instrumentation_enabled():
        return None
    return own_starter("llmobserve.http", "0.1.0").start(
        method,
        context.get_current(),
        SpanKind.CLIENT,
        {
            HTTP_REQUEST_METHOD: method,
            URL_FULL: url,
            SERVER_ADDRESS: host,
            SERVER_PORT: port or _DEFAULT_PORTS.get(scheme, 443),
        },
    )


def inject(carrier: MutableMapping[str, str], span: Span) -> None:
    """Write `traceparent` (and `baggage`, per the configured propagators) for `span`."""
    propagate.inject(carrier, context=trace.set_span_in_context(span))


def end_http_span(span: Span | None, status: int) -> None:
    if span is None:
        return
    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
    if status >= 400:
        span.set_attribute(ERROR_TYPE, str(status))
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def fail_http_span(span: Span | None, exc: BaseException) -> None:
    if span is None:
        return
    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR, str(exc)))
    span.end()
