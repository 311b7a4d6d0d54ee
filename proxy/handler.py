"""The hot path: one ASGI call in, one upstream call out, bytes streamed both ways.

A plain ASGI callable rather than a Starlette endpoint: `StreamingResponse` and middleware
cost about a millisecond per stream (measured on this machine), and a proxy has no use for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator
from time import monotonic
from typing import Any

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Tracer

from pricing import Registry
from proxy.call import ProxiedCall
from proxy.forwarding import downstream_headers, upstream_headers
from proxy.metrics import ProxyMetrics
from proxy.propagation import Propagation, inject
from proxy.protocol import (
    CUSTOMER_ID_HEADER,
    ROLLUP_HEADER,
    SECTION_HEADER,
    SECTION_PATH_HEADER,
    TARGET_URL_HEADER,
)
from proxy.providers.base import RequestFacts
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.llm import OPENAI_COMPATIBLE
from proxy.providers.services.eventstream import EVENT_STREAM_TYPE, MessageBoundary
from proxy.providers.usage import request_facts
from proxy.resolver import GuardedResolver
from proxy.routing import RoutingError, Target, resolve
from proxy.security import ForbiddenAddress, exempt_hosts, request_refusal
from proxy.settings import Settings
from proxy.spans import SpanStarter
from proxy.telemetry import attribution, call_attributes, span_name
from proxy.upstream import UpstreamClient, UpstreamError, UpstreamResponse
from proxy.watchdog import NOT_WAITING, Watch, Watchdog
from semconv import (
    LLMOBSERVE_PROXY_ROUTE,
)

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
_TARGET = TARGET_URL_HEADER.encode()
# Propagation headers, and ours that carry attribution for clients without an OTel SDK.
_PROPAGATION_HEADERS = frozenset(
    {
        b"traceparent",
        b"tracestate",
        b"baggage",
        CUSTOMER_ID_HEADER.encode(),
        SECTION_HEADER.encode(),
        SECTION_PATH_HEADER.encode(),
    }
)
_ROLLUP = ROLLUP_HEADER.encode()
_ROLLUP_BUFFER = 1024 * 1024  # JSON bodies up to this size are read before the headers go out


class BodyTooLarge(Exception):
    pass


class ProxyHandler:
    """ASGI app for every path but `/health`."""

    def __init__(
        self, settings: Settings, tracer: Tracer, registry: Registry, metrics: ProxyMetrics
    ) -> None:
        self._settings = settings
        self._spans = SpanStarter(tracer)
        self._registry = registry
        self._metrics = metrics
        self._client: UpstreamClient | None = None
        self._watchdog = Watchdog(
            connect_timeout=settings.connect_timeout, upstream_timeout=settings.upstream_timeout
        )
        self._propagation = Propagation(propagate.get_global_textmap())

    async def start(self) -> None:
        if self._client is None:
            self._watchdog.start()
            # No timer per call: the watchdog enforces LLMOBSERVE_CONNECT_TIMEOUT and
            # LLMOBSERVE_UPSTREAM_TIMEOUT for all calls at once.
            self._client = UpstreamClient(
                GuardedResolver(  # no loopback/private/metadata targets (SSRF)
                    self._settings.allowed_networks, exempt_hosts(self._settings)
                ),
                connected=self._watchdog.connected,
            )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await self._watchdog.stop()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        refusal = request_refusal(scope, headers, self._settings)
        if refusal is not None:
            await _send_json_error(send, *refusal)
            return
        target_header = next((v.decode("latin-1") for k, v in headers if k == _TARGET), None)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        try:
            target = resolve(
                raw_path, scope["query_string"].decode("latin-1"), target_header, self._settings
            )
        except RoutingError as exc:
            await _send_json_error(send, exc.status, "routing_error", exc.message)
            return
        method: str = scope["method"]
        # Hosts the catalog does not know but the user allowed (vLLM, Ollama, LM Studio, ...)
        # are metered when they speak the OpenAI-compatible API.
        candidate = target.provider.id if target.provider else OPENAI_COMPATIBLE
        endpoint = detect_endpoint(candidate, method, target.path, headers=headers)
        provider_id = candidate if target.provider is not None or endpoint is not None else None
        facts = RequestFacts()
        body: bytes | AsyncIterator[bytes]
        if endpoint is not None:
            limit = self._settings.max_request_bytes
            try:
                raw_body = await _read_body(receive, limit, headers)
            except BodyTooLarge:
                await _body_too_large(send, limit, "LLMOBSERVE_MAX_REQUEST_BYTES")
                return
            try:
                facts = request_facts(
                    endpoint, raw_body, inject_stream_usage=self._settings.inject_stream_usage
                )
            except Exception:  # a parser bug must not cost the client its call
                log.exception("request parser failed; forwarding the body unchanged")
                facts = RequestFacts(body=raw_body)
            body = facts.body
        else:
            limit = self._settings.max_streamed_request_bytes
            if _declared_length(headers) > limit:  # refused before a byte is forwarded
                await _body_too_large(send, limit, "LLMOBSERVE_MAX_STREAMED_REQUEST_BYTES")
                return
            body = _stream_body(receive, limit)
        carrier = _propagation_carrier(headers)
        context = self._propagation.extract(carrier)
        attributes = call_attributes(
            method,
            host=target.host,
            port=target.port,
            provider_id=provider_id,
            endpoint=endpoint,
            facts=facts,
            attribution=attribution(context, carrier),
        )
        attributes[LLMOBSERVE_PROXY_ROUTE] = target.route
        span = self._spans.start(
            span_name(method, target.host, endpoint, facts), context, SpanKind.CLIENT, attributes
        )
        call = ProxiedCall(
            span,
            attributes=attributes,
            endpoint=endpoint,
            facts=facts,
            provider=provider_id or target.host,
            host=target.host,
            metrics=self._metrics,
        )
        rollup = any(k == _ROLLUP and v == b"1" for k, v in headers)
        await self._forward(
            call,
            rollup=rollup,
            method=method,
            target=target,
            headers=headers,
            body=body,
            receive=receive,
            send=send,
        )

    async def _forward(
        self,
        call: ProxiedCall,
        *,
        method: str,
        target: Target,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes],
        receive: Any,
        send: Any,
        rollup: bool,
    ) -> None:
        out_headers = upstream_headers(
            headers,
            accept_identity=call.facts.usage_injected,
            keep_length=not isinstance(body, bytes),
        )
        out_headers.append(("Host", target.host_header))
        out_headers.extend(inject(call.span))
        assert self._client is not None, "ProxyHandler.start() was not awaited"
        # The client may leave once its body is read; a streamed body reports that itself.
        watch = self._watchdog.watch(receive if isinstance(body, bytes) else None)
        if not isinstance(body, bytes):
            watch.uploading = True
            body = self._uploading(body, watch)
        try:
            async with self._client.request(
                method, target.connect_origin, target.request_target, out_headers, body, watch=watch
            ) as response:
                await self._relay(call, response, send, watch, rollup=rollup)
        except asyncio.CancelledError:
            call.finish_partial(self._registry)  # usage so far goes on the span
            if watch.reason is None:
                call.fail("cancelled", "the proxy was stopped during the call")
                raise
            watch.task.uncancel()  # the watchdog's cancellation, handled here
            watch.completed = True
            if watch.disconnected:
                call.fail("client_disconnected", "the client went away before the response ended")
                return
            error = watch.timeout_error()
            await _upstream_failed(call, send, error, status=504, error_type="upstream_timeout")
        except TimeoutError as exc:
            call.finish_partial(self._registry)
            await _upstream_failed(call, send, exc, status=504, error_type="upstream_timeout")
        except UpstreamError as exc:
            call.finish_partial(self._registry)
            if _caused_by(exc, BodyTooLarge) and not call.response_started:
                call.fail("request_too_large", "the streamed request body exceeded its limit")
                limit = self._settings.max_streamed_request_bytes
                await _body_too_large(send, limit, "LLMOBSERVE_MAX_STREAMED_REQUEST_BYTES")
                return
            await _upstream_failed(call, send, exc, status=502, error_type="upstream_unreachable")
        finally:
            self._watchdog.release(watch)
            call.end()

    async def _uploading(self, body: AsyncIterator[bytes], watch: Watch) -> AsyncIterator[bytes]:
        async for chunk in body:
            yield chunk
        self._watchdog.uploaded(watch)

    async def _relay(
        self,
        call: ProxiedCall,
        response: UpstreamResponse,
        send: Any,
        watch: Watch,
        *,
        rollup: bool,
    ) -> None:
        watch.since = monotonic()  # the response's head arrived: the upstream spoke
        observer = call.observe(
            response.status, response.headers, max_parse_bytes=self._settings.max_parse_bytes
        )
        filtering = observer is not None and observer.filtering
        streaming = response.headers.get("Content-Type", "").startswith("text/event-stream")
        # Rollup on an AWS event stream: one more message follows the upstream's.
        framing = _event_stream_framing(response) if rollup and observer is not None else None
        # A stream's cost report comes after the upstream's bytes: their length no longer holds.
        appends = rollup and observer is not None and streaming
        headers = downstream_headers(
            response.raw_headers, drop_length=filtering or appends or framing is not None
        )
        buffered = not streaming and framing is None and _small(response)
        if rollup and observer is not None and buffered:
            # The SDK wants the cost with the response: read the (small, non-streamed) body
            # first, then send headers that carry the cost.
            body = bytearray()
            async for chunk in response.chunks():
                watch.since = monotonic()
                call.chunk_arrived()
                body += observer.feed(chunk)
            body += call.finish(response.status, self._registry, observer)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [*headers, call.cost_header()],
                }
            )
            call.response_started = True
            watch.completed = True
            await send({"type": "http.response.body", "body": bytes(body), "more_body": False})
            return
        watch.since = NOT_WAITING  # while the client is written to, silence is not counted
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        call.response_started = True
        watch.since = monotonic()
        last = b""
        async for chunk in response.chunks():
            call.chunk_arrived()
            out = observer.feed(chunk) if observer is not None else chunk
            if out:
                last = out
                if framing is not None:
                    framing.feed(out)
                watch.since = NOT_WAITING
                await send({"type": "http.response.body", "body": out, "more_body": True})
            watch.since = monotonic()
        if not rollup and not filtering:
            # Nothing is held back and nothing is appended: end the response before parsing
            # and pricing it. uvicorn holds the client's next request on this connection until
            # the response ends (c=1 latency, docs/benchmarks.md).
            watch.completed = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            call.finish(response.status, self._registry, observer)
            return
        tail = call.finish(response.status, self._registry, observer)
        # The cost comment goes after a complete event only, and never into compressed bytes.
        ended = (tail or last).endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))
        identity = response.headers.get("Content-Encoding", "identity") in ("", "identity")
        if rollup and streaming and observer is not None and ended and identity:
            tail += call.cost_comment()
        if framing is not None and framing.at_message_end:  # never after a cut message
            tail += call.cost_event()
        watch.completed = True
        await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _upstream_failed(
    call: ProxiedCall, send: Any, exc: Exception, *, status: int, error_type: str
) -> None:
    host, cause = call.host, _cause(exc)
    forbidden = getattr(exc, "os_error", None)
    if isinstance(forbidden, ForbiddenAddress):
        status, error_type = 403, "target_forbidden"
        cause = f"{forbidden}; add its network to LLMOBSERVE_ALLOWED_NETWORKS to allow it"
    call.fail(error_type, f"{cause} talking to {host}")
    call.span.record_exception(exc)
    if call.response_started:
        # Headers are gone: end the connection so the client sees an error, not a hang.
        raise ConnectionAbortedError(f"upstream {host} failed mid-response") from exc
    message = f"could not get a response from {host}: {cause}"
    await _send_json_error(send, status, error_type, message, target=host)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # the client wraps a failing request body once
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _cause(exc: Exception) -> str:
    """The exception's class and the reason: the OS's, the resolver's or the TLS check's (never
    an exception's own text, which may hold a URL)."""
    os_error = getattr(exc, "os_error", None)
    errno = getattr(os_error, "errno", None)
    reason: str | None
    if isinstance(os_error, ssl.SSLCertVerificationError):
        reason = os_error.verify_message or os_error.reason
    elif isinstance(os_error, ssl.SSLError):
        reason = os_error.reason
    elif isinstance(os_error, socket.gaierror):
        reason = os_error.strerror
    elif isinstance(errno, int):
        reason = os.strerror(errno)
    else:
        reason = getattr(os_error, "strerror", None)
    if isinstance(exc, TimeoutError):
        reason = "no byte from upstream within LLMOBSERVE_UPSTREAM_TIMEOUT"
    return f"{type(exc).__name__} ({reason})" if reason else type(exc).__name__


def _small(response: UpstreamResponse) -> bool:
    length = response.headers.get("Content-Length")
    return length is not None and length.isdigit() and int(length) <= _ROLLUP_BUFFER


def _event_stream_framing(response: UpstreamResponse) -> MessageBoundary | None:
    """Follows an identity-encoded AWS event stream's framing; None for any other body."""
    if not response.headers.get("Content-Type", "").startswith(EVENT_STREAM_TYPE):
        return None
    identity = response.headers.get("Content-Encoding", "identity") in ("", "identity")
    return MessageBoundary() if identity else None


def _propagation_carrier(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for name, value in headers:
        if name in _PROPAGATION_HEADERS:
            key = name.decode()
            text = value.decode("latin-1")
            carrier[key] = f"{carrier[key]},{text}" if key in carrier else text
    return carrier


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    value = next((v for k, v in headers if k == b"content-length"), b"")
    return int(value) if value.isdigit() else 0


async def _body_too_large(send: Any, limit: int, variable: str) -> None:
    message = f"request body exceeds {limit} bytes ({variable})"
    await _send_json_error(send, 413, "request_too_large", message)


async def _read_body(receive: Any, limit: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    if _declared_length(headers) > limit:
        raise BodyTooLarge  # say so before the client uploads it all
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError("client disconnected while sending the body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _stream_body(receive: Any, limit: int) -> AsyncIterator[bytes]:
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:  # a chunked body with no declared length grew past the limit
            raise BodyTooLarge
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _send_json_error(
    send: Any, status: int, error_type: str, message: str, **extra: str
) -> None:
    body = json.dumps(
        {"error": {"type": error_type, "message": message, "source": "llmobserve-proxy", **extra}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
