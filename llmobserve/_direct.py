"""Direct mode: price calls in-process, with the proxy's own detection, parsers and pricer.

When a call to a metered provider endpoint does not go through the proxy (no proxy URL, or the
proxy is unreachable and the call fails open), the patched client parses the response as it
streams through and emits the same span the proxy would: `{operation} {model}`, CLIENT,
`gen_ai.*` usage and `gen_ai.usage.cost`. `LLMOBSERVE_UPSTREAM_OVERRIDES` applies here too, so
direct mode can be tested offline against a local fake upstream.

A call that goes direct to a provider carries no `llmobserve.*` baggage entries: the proxy
strips them before forwarding (`proxy.forwarding.strip_our_baggage`), and customer ids must not
reach third parties on this path either.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from llmobserve._http_span import own_starter
from llmobserve._rollup import BodyTap, Frame, active_frames, add_call
from pricing import default_registry
from proxy.protocol import OUR_BAGGAGE_KEYS
from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.usage import ResponseObserver, request_facts
from proxy.telemetry import attribution, call_attributes, record_response, span_name
from semconv import ERROR_TYPE, LlmobserveCostStatusValues

log = logging.getLogger("llmobserve")

_PRICED_OR_UNKNOWN = {
    LlmobserveCostStatusValues.PRICED,
    LlmobserveCostStatusValues.UNKNOWN_MODEL,
    LlmobserveCostStatusValues.USAGE_UNAVAILABLE,
}


class DirectCall:
    """One call metered in-process."""

    def __init__(
        self, span: Span, provider: str, endpoint: Any, facts: Any, frames: tuple[Frame, ...]
    ):
        self.span = span
        self.provider = provider
        self.endpoint = endpoint
        self.facts = facts
        self._frames = frames
        self._observer: ResponseObserver | None = None
        self._status = 0
        self._done = False

    @property
    def body(self) -> bytes:
        """The body to send (asks OpenAI-style streams for usage, hidden again below)."""
        return bytes(self.facts.body)

    def response(self, status: int, headers: Mapping[str, str], *, decoded: bool = False) -> None:
        """The response arrived; `decoded`: its body is fed with the content-encoding undone."""
        self._status = status
        self._observer = ResponseObserver(
            self.endpoint,
            status=status,
            content_type=headers.get("content-type", ""),
            content_encoding="" if decoded else headers.get("content-encoding", ""),
            drop_injected_usage=self.facts.usage_injected,
            request=self.facts,
            headers=headers,
        )

    def feed(self, chunk: bytes) -> bytes:
        return self._observer.feed(chunk) if self._observer is not None else chunk

    def tap(self, status: int, headers: Mapping[str, str]) -> BodyTap:
        """The response's body tap, for clients that learn only from the first read whether
        the body comes decoded (urllib3, aiohttp)."""
        return _DirectTap(self, status, headers)

    def finish(self, error: BaseException | None = None) -> bytes:
        """Price what was seen and end the span; returns bytes still held back."""
        if self._done:
            return b""
        self._done = True
        tail = b""
        try:
            if self._observer is not None:
                tail, result = self._observer.finish()
                priced = record_response(
                    self.span,
                    status=self._status,
                    provider_id=self.provider,
                    facts=self.facts,
                    result=result,
                    registry=default_registry(),
                )
                if priced.status in _PRICED_OR_UNKNOWN:
                    add_call(self._frames, priced.total)
            if error is not None:
                self.span.set_attribute(ERROR_TYPE, type(error).__qualname__)
                self.span.set_status(Status(StatusCode.ERROR, str(error)))
        except Exception:  # telemetry never breaks the application
            log.exception("llmobserve: direct-mode metering failed")
        finally:
            self.span.end()
        return tail


def begin(
    method: str,
    *,
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    body: bytes,
    parent: Span | None,
    inject_stream_usage: bool = True,
    headers: Mapping[str, str] | None = None,
) -> DirectCall | None:
    """A `DirectCall` when this request is to a metered endpoint, else None.

    `inject_stream_usage=False` leaves the body as it is (signed requests: SigV4 covers it);
    an OpenAI-style stream then reports no usage unless the application asked for it.
    `headers` (the request's) let AWS JSON-protocol calls be told apart by `X-Amz-Target`.
    """
    provider = provider_for_host(host)
    if provider is None:
        return None
    endpoint = detect_endpoint(provider.id, method, path, headers=headers)
    if endpoint is None:
        return None
    facts = request_facts(endpoint, body, inject_stream_usage=inject_stream_usage)
    ctx = otel_context.get_current()
    attributes = call_attributes(
        method,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        provider_id=provider.id,
        endpoint=endpoint,
        facts=facts,
        attribution=attribution(ctx),
    )
    if parent is not None:
        ctx = trace.set_span_in_context(parent, ctx)
    span = own_starter("llmobserve.direct", "0.1.0").start(
        span_name(method, host, endpoint, facts), ctx, SpanKind.CLIENT, attributes
    )
    return DirectCall(span, provider.id, endpoint, facts, active_frames())


def begin_prepared(request: Any, *, parent: Span | None, may_rewrite: bool) -> DirectCall | None:
    """`begin` for a prepared request with `method`, `url`, `headers` and a `body` that is
    None, bytes or text (requests' `PreparedRequest`, botocore's `AWSPreparedRequest`).

    `may_rewrite`: a stream may be asked for its usage (the body rewritten) unless the request
    is signed. A body that is a file or a generator (an upload) is not read: None. Never
    raises."""
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, bytes | bytearray):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode()
    else:
        return None
    try:
        parts = urlsplit(request.url)
        return begin(
            request.method,
            scheme=parts.scheme,
            host=parts.hostname or "",
            port=parts.port,
            path=parts.path,
            body=data,
            parent=parent,
            inject_stream_usage=may_rewrite and not is_signed(request.headers),
            headers=request.headers,
        )
    except Exception:
        log.exception("llmobserve: direct-mode metering could not start")
        return None


class _DirectTap:
    def __init__(self, call: DirectCall, status: int, headers: Mapping[str, str]) -> None:
        self._call = call
        self._status = status
        self._headers = headers

    def begin(self, decoded: bool) -> None:
        self._call.response(self._status, self._headers, decoded=decoded)

    def feed(self, chunk: bytes) -> bytes:
        return self._call.feed(chunk)

    def close(self, error: BaseException | None = None) -> bytes:
        return self._call.finish(error)


@functools.lru_cache(maxsize=1024)
def is_provider_host(host: str) -> bool:
    """A third party: a host of a provider the proxy knows."""
    return provider_for_host(host.lower()) is not None


def without_our_baggage(value: str) -> str:
    """A W3C `baggage` value without our entries (customer id, section path); others stay.

    The same rule as the proxy's (`proxy.forwarding.strip_our_baggage`), on text.
    """
    kept = []
    for member in value.split(","):
        key = member.split(";", 1)[0].split("=", 1)[0].strip()
        if unquote(key) not in OUR_BAGGAGE_KEYS:
            kept.append(member)
    return ",".join(kept).strip()


def is_signed(headers: Mapping[str, str]) -> bool:
    """True for a SigV4-signed request (its body is signed: never rewrite it)."""
    authorization = headers.get("authorization") or headers.get("Authorization") or ""
    return authorization.startswith("AWS4-") or "x-amz-content-sha256" in headers


class _MeteredSync:
    def __init__(self, inner: Any, call: DirectCall) -> None:
        self._inner = inner
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                out = self._call.feed(chunk)
                if out:
                    yield out
        except BaseException as exc:
            self._call.finish(exc)
            raise
        tail = self._call.finish()
        if tail:
            yield tail

    def close(self) -> None:
        self._call.finish()
        self._inner.close()


class _MeteredAsync:
    def __init__(self, inner: Any, call: DirectCall) -> None:
        self._inner = inner
        self._call = call

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                out = self._call.feed(chunk)
                if out:
                    yield out
        except BaseException as exc:
            self._call.finish(exc)
            raise
        tail = self._call.finish()
        if tail:
            yield tail

    async def aclose(self) -> None:
        self._call.finish()
        await self._inner.aclose()


@functools.cache
def metered_stream_class(base: type, is_async: bool) -> type:
    mixin = _MeteredAsync if is_async else _MeteredSync
    return type(mixin.__name__, (mixin, base), {})
