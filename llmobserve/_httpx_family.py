"""Proxy routing and trace propagation for httpx and httpx2 (same API, different module).

Both patch the transport *class* methods (`HTTPTransport.handle_request`,
`AsyncHTTPTransport.handle_async_request`), so clients created before `observe()` are
covered, as the official httpx instrumentation does. For httpx2 - used by openai, anthropic,
google-genai and mistralai, which no OpenTelemetry instrumentation covers - the wrapper also
opens the HTTP CLIENT span and injects `traceparent`/`baggage`. For httpx the official
instrumentation does that and wraps around this routing.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind

from llmobserve import _direct as direct
from llmobserve._direct import DirectCall
from llmobserve._http_span import end_http_span, fail_http_span, own_starter, redacted_url
from llmobserve._rollup import Frame, active_frames, read_back
from llmobserve._routing import Router
from proxy.protocol import ROLLUP_HEADER, TARGET_URL_HEADER
from semconv import (
    HTTP_REQUEST_METHOD,
    SERVER_ADDRESS,
    SERVER_PORT,
    URL_FULL,
)

log = logging.getLogger("llmobserve")

_MARK = "__llmobserve_original__"


class HttpxFamilyPatch:
    """Patch one httpx-like module; `remove()` restores it exactly."""

    def __init__(
        self,
        module: ModuleType,
        router: Router | None,
        *,
        trace_requests: bool,
        overrides: Mapping[str, str] | None = None,
    ):
        self.module = module
        self.router = router
        self.overrides = dict(overrides or {})
        # The proxy and override origins, parsed once: parsing a URL costs tens of µs a call.
        self._origins: dict[str, Any] = {}
        self.trace_requests = trace_requests
        self._applied: list[tuple[type, str]] = []
        # The hop to our proxy normally shares the application's connection pool. When that
        # pool tunnels through an HTTP(S)/SOCKS proxy (HTTPS_PROXY chosen for the provider
        # URL), it uses a direct transport of its own - for async, one per application
        # transport (both bound to the same loop), closed when the application closes it.
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
        with self._lock:
            hop = self._async_transports.get(transport)
            if hop is None:
                hop = self.module.AsyncHTTPTransport(trust_env=False)
                self._async_transports[transport] = hop
            return hop

    def apply(self) -> None:
        sync_cls = self.module.HTTPTransport
        async_cls = self.module.AsyncHTTPTransport
        for cls, name, make in (
            (sync_cls, "handle_request", self._wrap_sync),
            (async_cls, "handle_async_request", self._wrap_async),
            (async_cls, "aclose", self._wrap_close),
            (async_cls, "__aexit__", self._wrap_close),
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
        self._async_transports.clear()  # the rest close with their application transports

    def _wrap_close(self, original: Callable[..., Any]) -> Callable[..., Any]:
        # `aclose()` or `async with` (which does not call aclose) closes the hop too.
        async def close(transport: Any, *args: Any) -> Any:
            with self._lock:
                hop = self._async_transports.pop(transport, None)
            try:
                return await _bound(original, transport)(*args)
            finally:
                if hop is not None:
                    await hop.aclose()

        return close

    def _proxied(self, request: Any, frames: tuple[Frame, ...]) -> Any:
        router = self.router
        assert router is not None
        url = request.url
        proxy_url = self._at_origin(router.proxy_url, url)
        headers = request.headers.copy()
        # The request is to the proxy: name it in Host (RFC 9110 7.2), as load balancers and
        # ingresses in front of the proxy route by it. The target URL names the provider.
        headers["Host"] = proxy_url.netloc.decode("ascii")
        headers[TARGET_URL_HEADER] = str(url)
        headers.update(router.proxy_headers)
        if frames:
            # Only a section adds the cost up: without one, the proxy need not read and price
            # the body before it sends the headers (docs/benchmarks.md, the SDK's gap).
            headers[ROLLUP_HEADER] = "1"
        return self.module.Request(
            request.method,
            proxy_url,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )

    def _prepare_direct(
        self, request: Any, span: Span | None
    ) -> tuple[Any, DirectCall | None, bool]:
        """Meter the call in-process when it is to a metered endpoint; apply upstream overrides."""
        call = None
        url = request.url
        if isinstance(request.stream, self.module.ByteStream):
            try:
                call = direct.begin(
                    request.method,
                    scheme=url.scheme,
                    host=url.host,
                    port=url.port,
                    path=url.raw_path.split(b"?", 1)[0].decode("ascii", "replace"),
                    body=b"".join(request.stream),
                    parent=span,
                    headers=request.headers,
                )
            except Exception:
                log.exception("llmobserve: direct-mode metering could not start")
        origin = self.overrides.get(url.host)
        # Our baggage entries (customer id, section path) never reach a third party.
        private = "baggage" in request.headers and direct.is_provider_host(url.host)
        if call is None and origin is None and not private:
            return request, None, False
        headers = request.headers.copy()
        if private:
            kept = direct.without_our_baggage(headers["baggage"])
            del headers["baggage"]
            if kept:
                headers["baggage"] = kept
        content = None
        if call is not None and call.facts.usage_injected:
            content = call.body
            headers["content-length"] = str(len(content))
        target = url if origin is None else self._at_origin(origin, url)
        rebuilt = self.module.Request(
            request.method,
            target,
            headers=headers,
            content=content,
            stream=None if content is not None else request.stream,
            extensions=request.extensions,
        )
        return rebuilt, call, origin is not None

    def _at_origin(self, origin: str, url: Any) -> Any:
        """`url`'s path and query at `origin` (scheme, host, port): the proxy or an override."""
        parsed = self._origins.get(origin)
        if parsed is None:
            parsed = self._origins[origin] = self.module.URL(origin)
        return with_path_of(parsed, url)

    def _send_direct(
        self, original: Callable[..., Any], transport: Any, request: Any, span: Any
    ) -> Any:
        request, call, overridden = self._prepare_direct(request, span)
        if overridden:
            transport = self._proxy_transport(transport)
        try:
            response = _bound(original, transport)(request)
        except BaseException as exc:
            if call is not None:
                call.finish(exc)
            raise
        if call is not None:
            call.response(response.status_code, response.headers)
            stream = direct.metered_stream_class(self.module.SyncByteStream, False)
            response.stream = stream(response.stream, call)
        return response

    async def _send_direct_async(
        self, original: Callable[..., Any], transport: Any, request: Any, span: Any
    ) -> Any:
        request, call, overridden = self._prepare_direct(request, span)
        if overridden:
            transport = self._async_proxy_transport(transport)
        try:
            response = await _bound(original, transport)(request)
        except BaseException as exc:
            if call is not None:
                call.finish(exc)
            raise
        if call is not None:
            call.response(response.status_code, response.headers)
            stream = direct.metered_stream_class(self.module.AsyncByteStream, True)
            response.stream = stream(response.stream, call)
        return response

    def _routes(self, request: Any) -> bool:
        return self.router is not None and self.router.should_route(request.url.host)

    def _start_span(self, request: Any) -> Span | None:
        if not self.trace_requests or not is_http_instrumentation_enabled():
            return None
        url = request.url
        # The global provider's tracer, cached, with lean spans (see `proxy.spans`).
        span = own_starter("llmobserve.http", "0.1.0").start(
            request.method,
            context.get_current(),
            SpanKind.CLIENT,
            {
                HTTP_REQUEST_METHOD: request.method,
                URL_FULL: redacted_url(
                    url.scheme, url.netloc.decode("ascii", "replace"), url.path, bool(url.query)
                ),
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
                        frames = active_frames()
                        proxied = self._proxied(request, frames)
                        response = _bound(original, proxy_transport)(proxied)
                        self.router.proxy_ok()  # type: ignore[union-attr]
                        if frames:
                            read_back(
                                response,
                                frames,
                                stream_base=self.module.SyncByteStream,
                                is_async=False,
                            )
                    except connect_errors as exc:
                        self.router.proxy_failed(exc)  # type: ignore[union-attr]
                        response = self._send_direct(original, transport, request, span)
                else:
                    response = self._send_direct(original, transport, request, span)
            except BaseException as exc:
                fail_http_span(span, exc)
                raise
            end_http_span(span, response.status_code)
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
                        frames = active_frames()
                        proxied = self._proxied(request, frames)
                        response = await _bound(original, proxy_transport)(proxied)
                        self.router.proxy_ok()  # type: ignore[union-attr]
                        if frames:
                            read_back(
                                response,
                                frames,
                                stream_base=self.module.AsyncByteStream,
                                is_async=True,
                            )
                    except connect_errors as exc:
                        self.router.proxy_failed(exc)  # type: ignore[union-attr]
                        response = await self._send_direct_async(original, transport, request, span)
                else:
                    response = await self._send_direct_async(original, transport, request, span)
            except BaseException as exc:
                fail_http_span(span, exc)
                raise
            end_http_span(span, response.status_code)
            return response

        return handle_async_request


def _bound(original: Any, transport: Any) -> Any:
    """`original` bound to `transport` the way attribute access would bind it.

    Calling a class attribute as `original(transport, request)` is wrong when it is a wrapt
    wrapper installed earlier (e.g. by `opentelemetry-instrument` before `observe()`): wrapt
    only binds the instance through the descriptor protocol.
    """
    return original.__get__(transport, type(transport))


def with_path_of(origin: Any, url: Any) -> Any:
    """A URL with `origin`'s scheme, host and port and `url`'s path and query.

    As `origin.copy_with(raw_path=url.raw_path)`, without parsing again what both URLs already
    hold parsed and validated (`copy_with` re-parses the whole URL: ~15 µs a call). Falls back
    to `copy_with` if the URL class no longer keeps its parts in a `_uri_reference` tuple.
    """
    parts: Any = getattr(origin, "_uri_reference", None)
    target: Any = getattr(url, "_uri_reference", None)
    if not (hasattr(parts, "_replace") and hasattr(target, "path") and hasattr(target, "query")):
        return origin.copy_with(raw_path=url.raw_path)
    cls: Any = type(origin)
    joined = cls.__new__(cls)
    joined._uri_reference = parts._replace(path=target.path or "/", query=target.query)
    return joined


def _goes_through_a_proxy(transport: Any) -> bool:
    pool = getattr(transport, "_pool", None)
    return pool is not None and "Proxy" in type(pool).__name__
