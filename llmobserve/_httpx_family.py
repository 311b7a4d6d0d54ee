"""Proxy routing and trace propagation for httpx and httpx2 (same API, different module).

Both patch the transport *class* methods (`HTTPTransport.handle_request`,
`AsyncHTTPTransport.handle_async_request`), so clients created before `observe()` are
covered, as the official httpx instrumentation does. For httpx2 - used by openai, anthropic,
google-genai and mistralai, which no OpenTelemetry instrumentation covers - the wrapper also
opens the HTTP CLIENT span and injects `traceparent`/`baggage`. For httpx the official
instrumentation does that and wraps around this routing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from llmobserve._routing import Router
from proxy.protocol import TARGET_URL_HEADER
from semconv import (
    ERROR_TYPE,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_FULL,
)

log = logging.getLogger("llmobserve")

_MARK = "__llmobserve_original__"


def _redacted_url(url: Any) -> str:
    # Query strings carry API keys for some providers (`?key=`): never put them on a span.
    base = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"
    return f"{base}?REDACTED" if url.query else base


class HttpxFamilyPatch:
    """Patch one httpx-like module; `remove()` restores it exactly."""

    def __init__(self, module: ModuleType, router: Router | None, *, trace_requests: bool):
        self.module = module
        self.router = router
        self.trace_requests = trace_requests
        self._tracer = trace.get_tracer("llmobserve.http", "0.1.0")
        self._applied: list[tuple[type, str]] = []
        # The hop to our proxy normally shares the application's connection pool. When that
        # pool tunnels through an HTTP(S)/SOCKS proxy (HTTPS_PROXY chosen for the provider
        # URL), it uses a direct transport of its own. Async pools are bound to their loop.
        self._lock = threading.Lock()
        self._sync_transport: Any = None
        self._async_transports: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def _proxy_transport(self, transport: Any) -> Any:
        if not _goes_through_a_proxy(transport):
            return transport  # share the application's pool (closed with its client)
        with self._lock:
            if self._sync_transport is None:
                self._sync_transport = self.module.HTTPTransport(trust_env=False)
            return self._sync_transport

    def _async_proxy_transport(self, transport: Any) -> Any:
        if not _goes_through_a_proxy(transport):
            return transport
        loop = asyncio.get_running_loop()
        with self._lock:
            transport = self._async_transports.get(loop)
            if transport is None:
                transport = self.module.AsyncHTTPTransport(trust_env=False)
                self._async_transports[loop] = transport
            return transport

    def apply(self) -> None:
        sync_cls = self.module.HTTPTransport
        async_cls = self.module.AsyncHTTPTransport
        for cls, name, make in (
            (sync_cls, "handle_request", self._wrap_sync),
            (async_cls, "handle_async_request", self._wrap_async),
        ):
            original = cls.__dict__.get(name)
            if original is None or hasattr(original, _MARK):
                continue  # shape changed, or already patched: leave it alone
            wrapper = make(original)
            setattr(wrapper, _MARK, original)
            setattr(cls, name, wrapper)
            self._applied.append((cls, name))

    def remove(self) -> None:
        for cls, name in self._applied:
            current = cls.__dict__.get(name)
            original = getattr(current, _MARK, None)
            if original is not None:
                setattr(cls, name, original)
            else:
                log.warning("llmobserve: %s.%s was re-wrapped by someone else", cls, name)
        self._applied.clear()
        if self._sync_transport is not None:
            self._sync_transport.close()
            self._sync_transport = None
        self._async_transports.clear()  # closed with their event loops

    def _proxied(self, request: Any) -> Any:
        router = self.router
        assert router is not None
        url = request.url
        proxy_url = self.module.URL(router.proxy_url).copy_with(raw_path=url.raw_path)
        headers = request.headers.copy()
        headers[TARGET_URL_HEADER] = str(url)
        return self.module.Request(
            request.method,
            proxy_url,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )

    def _routes(self, request: Any) -> bool:
        return self.router is not None and self.router.should_route(request.url.host)

    def _start_span(self, request: Any) -> Span | None:
        if not self.trace_requests or not is_http_instrumentation_enabled():
            return None
        url = request.url
        span = self._tracer.start_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                HTTP_REQUEST_METHOD: request.method,
                URL_FULL: _redacted_url(url),
                SERVER_ADDRESS: url.host,
                SERVER_PORT: url.port or (443 if url.scheme == "https" else 80),
            },
        )
        propagate.inject(request.headers, context=trace.set_span_in_context(span))
        return span

    def _wrap_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        connect_errors = (self.module.ConnectError, self.module.ConnectTimeout)

        def handle_request(transport: Any, request: Any) -> Any:
            span = self._start_span(request)
            try:
                if self._routes(request):
                    try:
                        proxy_transport = self._proxy_transport(transport)
                        response = original(proxy_transport, self._proxied(request))
                        self.router.proxy_ok()  # type: ignore[union-attr]
                    except connect_errors as exc:
                        self.router.proxy_failed(exc)  # type: ignore[union-attr]
                        response = original(transport, request)
                else:
                    response = original(transport, request)
            except BaseException as exc:
                _end_failed(span, exc)
                raise
            _end(span, response.status_code)
            return response

        return handle_request

    def _wrap_async(self, original: Callable[..., Any]) -> Callable[..., Any]:
        connect_errors = (self.module.ConnectError, self.module.ConnectTimeout)

        async def handle_async_request(transport: Any, request: Any) -> Any:
            span = self._start_span(request)
            try:
                if self._routes(request):
                    try:
                        proxy_transport = self._async_proxy_transport(transport)
                        response = await original(proxy_transport, self._proxied(request))
                        self.router.proxy_ok()  # type: ignore[union-attr]
                    except connect_errors as exc:
                        self.router.proxy_failed(exc)  # type: ignore[union-attr]
                        response = await original(transport, request)
                else:
                    response = await original(transport, request)
            except BaseException as exc:
                _end_failed(span, exc)
                raise
            _end(span, response.status_code)
            return response

        return handle_async_request


def _goes_through_a_proxy(transport: Any) -> bool:
    pool = getattr(transport, "_pool", None)
    return pool is not None and "Proxy" in type(pool).__name__


def _end(span: Span | None, status: int) -> None:
    if span is None:
        return
    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
    if status >= 400:
        span.set_attribute(ERROR_TYPE, str(status))
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def _end_failed(span: Span | None, exc: BaseException) -> None:
    if span is None:
        return
    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
    span.set_status(Status(StatusCode.ERROR, str(exc)))
    span.end()
