"""The hot path: one ASGI call in, one upstream call out, bytes streamed both ways.

A plain ASGI callable rather than a Starlette endpoint: `StreamingResponse` and middleware
cost about a millisecond per stream (measured on this machine), and a proxy has no use for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from yarl import URL

from pricing import Registry
from proxy.forwarding import downstream_headers, upstream_headers
from proxy.protocol import TARGET_URL_HEADER
from proxy.providers.base import RequestFacts
from proxy.providers.endpoints import Endpoint, detect_endpoint
from proxy.providers.usage import ResponseObserver, request_facts
from proxy.routing import RoutingError, Target, resolve
from proxy.settings import Settings
from proxy.telemetry import attribution, record_response
from semconv import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_PROXY_ROUTE,
    LLMOBSERVE_PROXY_STREAM_USAGE_INJECTED,
    SERVER_ADDRESS,
    SERVER_PORT,
    LlmobserveCostStatusValues,
)

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
_TARGET = TARGET_URL_HEADER.encode()
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})


class BodyTooLarge(Exception):
    pass


class ProxyHandler:
    """ASGI app for every path but `/health`."""

    def __init__(self, settings: Settings, tracer: Tracer, registry: Registry) -> None:
        self._settings = settings
        self._tracer = tracer
        self._registry = registry
        self._session: aiohttp.ClientSession | None = None
        self._propagator: TextMapPropagator = propagate.get_global_textmap()
        self._traceparent = TraceContextTextMapPropagator()

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                auto_decompress=False,  # forward bytes as the provider sent them
                cookie_jar=aiohttp.DummyCookieJar(),  # never share cookies between clients
                trust_env=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=self._settings.connect_timeout,
                    sock_read=self._settings.upstream_timeout,
                ),
            )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
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
        provider_id = target.provider.id if target.provider else None
        endpoint = detect_endpoint(provider_id, method, target.path) if provider_id else None
        facts = RequestFacts()
        body: bytes | AsyncIterator[bytes]
        if endpoint is not None:
            try:
                raw_body = await _read_body(receive, self._settings.max_request_bytes)
            except BodyTooLarge:
                await _send_json_error(
                    send,
                    413,
                    "request_too_large",
                    f"request body exceeds {self._settings.max_request_bytes} bytes "
                    "(LLMOBSERVE_MAX_REQUEST_BYTES)",
                )
                return
            facts = request_facts(
                endpoint, raw_body, inject_stream_usage=self._settings.inject_stream_usage
            )
            body = facts.body
        else:
            body = _stream_body(receive)
        context = self._propagator.extract(_propagation_carrier(headers))
        span = self._start_span(method, target, endpoint, facts, context)
        call = _Call(span, endpoint, facts, provider_id or target.host)
        await self._forward(
            call,
            method=method,
            target=target,
            headers=headers,
            body=body,
            receive=receive,
            send=send,
        )

    def _start_span(
        self,
        method: str,
        target: Target,
        endpoint: Endpoint | None,
        facts: RequestFacts,
        context: Context,
    ) -> Span:
        attributes: dict[str, str | bool | int] = {
            SERVER_ADDRESS: target.host,
            SERVER_PORT: target.port,
            HTTP_REQUEST_METHOD: method,
            LLMOBSERVE_PROXY_ROUTE: target.route,
            **attribution(context),
        }
        if target.provider is not None:
            attributes[GEN_AI_PROVIDER_NAME] = target.provider.id
        if endpoint is None:
            name = f"{method} {target.host}"
            attributes[LLMOBSERVE_COST_STATUS] = LlmobserveCostStatusValues.NOT_METERED
        else:
            attributes[GEN_AI_OPERATION_NAME] = endpoint.operation
            name = endpoint.operation
            if facts.model:
                attributes[GEN_AI_REQUEST_MODEL] = facts.model
                name = f"{endpoint.operation} {facts.model}"
            if facts.stream:
                attributes[GEN_AI_REQUEST_STREAM] = True
            if facts.usage_injected:
                attributes[LLMOBSERVE_PROXY_STREAM_USAGE_INJECTED] = True
        return self._tracer.start_span(
            name, context=context, kind=SpanKind.CLIENT, attributes=attributes
        )

    async def _forward(
        self,
        call: _Call,
        *,
        method: str,
        target: Target,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes],
        receive: Any,
        send: Any,
    ) -> None:
        out_headers = upstream_headers(
            headers,
            accept_identity=call.facts.usage_injected,
            keep_length=not isinstance(body, bytes),
        )
        out_headers.append(("Host", target.host_header))
        carrier: dict[str, str] = {}
        self._traceparent.inject(carrier, context=set_span_in_context(call.span))
        out_headers.extend(carrier.items())
        watcher = _DisconnectWatcher(receive) if isinstance(body, bytes) else None
        assert self._session is not None, "ProxyHandler.start() was not awaited"
        try:
            async with self._session.request(
                method,
                URL(target.connect_url, encoded=True),
                headers=out_headers,
                data=body,
                allow_redirects=False,
                skip_auto_headers=_SKIP_AUTO_HEADERS,
            ) as response:
                await self._relay(call, response, send, watcher)
        except asyncio.CancelledError:
            if watcher is not None and watcher.disconnected:
                call.fail("client_disconnected", "the client went away before the response ended")
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()  # our own cancellation, handled here
                return
            call.fail("cancelled", "the proxy was stopped during the call")
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            await call.upstream_failed(send, 504, "upstream_timeout", target, exc)
        except aiohttp.ClientError as exc:
            await call.upstream_failed(send, 502, "upstream_unreachable", target, exc)
        finally:
            if watcher is not None:
                watcher.close()
            call.end()

    async def _relay(
        self,
        call: _Call,
        response: aiohttp.ClientResponse,
        send: Any,
        watcher: _DisconnectWatcher | None,
    ) -> None:
        observer = call.observe(response)
        filtering = observer is not None and observer.filtering
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": downstream_headers(response.raw_headers, drop_length=filtering),
            }
        )
        call.response_started = True
        async for chunk in response.content.iter_any():
            out = observer.feed(chunk) if observer is not None else chunk
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
        tail = call.finish(response.status, self._registry, observer)
        if watcher is not None:
            watcher.completed = True
        await send({"type": "http.response.body", "body": tail, "more_body": False})


class _Call:
    """One proxied call's span and bookkeeping."""

    def __init__(self, span: Span, endpoint: Endpoint | None, facts: RequestFacts, provider: str):
        self.span = span
        self.endpoint = endpoint
        self.facts = facts
        self.provider = provider
        self.response_started = False
        self._observer: ResponseObserver | None = None

    def observe(self, response: aiohttp.ClientResponse) -> ResponseObserver | None:
        if self.endpoint is None:
            self.span.set_attribute(HTTP_RESPONSE_STATUS_CODE, response.status)
            return None
        self._observer = ResponseObserver(
            self.endpoint,
            status=response.status,
            content_type=response.headers.get("Content-Type", ""),
            content_encoding=response.headers.get("Content-Encoding", ""),
            drop_injected_usage=self.facts.usage_injected,
            request=self.facts,
            headers=response.headers,
        )
        return self._observer

    def finish(self, status: int, registry: Registry, observer: ResponseObserver | None) -> bytes:
        if observer is None:
            if status >= 400:
                self.span.set_attribute(ERROR_TYPE, str(status))
                self.span.set_status(Status(StatusCode.ERROR))
            return b""
        tail, result = observer.finish()
        record_response(
            self.span,
            status=status,
            provider_id=self.provider,
            request_model=self.facts.model,
            result=result,
            registry=registry,
        )
        return tail

    def fail(self, error_type: str, description: str) -> None:
        self.span.set_attribute(ERROR_TYPE, error_type)
        self.span.set_status(Status(StatusCode.ERROR, description))

    async def upstream_failed(
        self, send: Any, status: int, error_type: str, target: Target, exc: Exception
    ) -> None:
        cause = type(exc).__name__
        self.fail(error_type, f"{cause} talking to {target.host}")
        self.span.record_exception(exc)
        if self.response_started:
            # Headers are gone: end the connection so the client sees an error, not a hang.
            raise ConnectionAbortedError(f"upstream {target.host} failed mid-response") from exc
        message = f"could not get a response from {target.host}: {cause}"
        await _send_json_error(send, status, error_type, message, target=target.host)

    def end(self) -> None:
        self.span.end()


class _DisconnectWatcher:
    """Cancels the call when the client disconnects before the response is complete."""

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._call_task = asyncio.current_task()
        self.disconnected = False
        self.completed = False
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self.completed and self._call_task is not None:
                    self.disconnected = True
                    self._call_task.cancel()
                return

    def close(self) -> None:
        self._task.cancel()


def _propagation_carrier(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for name, value in headers:
        if name in _PROPAGATION_HEADERS:
            key = name.decode()
            text = value.decode("latin-1")
            carrier[key] = f"{carrier[key]},{text}" if key in carrier else text
    return carrier


async def _read_body(receive: Any, limit: int) -> bytes:
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


async def _stream_body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
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
