"""Proxy routing, direct-mode metering and trace propagation for aiohttp.

Three class-level seams, so sessions created before `observe()` are covered too:

- `BaseConnector.connect(req, ...)` decides where a request goes. For a provider host it opens
  the connection to the proxy instead, then puts the request's URL back: the request line
  (`req.url.raw_path_qs`, the exact bytes the application built), cookies, redirects,
  `response.url` and every trace hook keep seeing the provider URL. Only the socket, `Host`
  and `X-LLMObserve-Target-URL` differ. Routing inside `ClientSession._request` instead would
  file the provider's cookies under the proxy's host (and so send them to every provider
  behind it) and follow relative redirects to the proxy. A failure in `connect()` happens
  before any byte of the request is written, so it is always safe to go direct then.
  WebSocket handshakes go direct: the proxy relays HTTP exchanges, not upgraded connections.
  A request that goes direct to a provider (no proxy, or the proxy unreachable) loses our
  baggage entries, starts its in-process metering (`_direct.DirectCall`; the request body is
  read from its bytes payload) and, under `LLMOBSERVE_UPSTREAM_OVERRIDES`, connects to the
  override origin the same way it would to the proxy, `Host` still the provider's.
- `ClientResponse.start(connection)` hands the response of a request `connect()` took note of
  (by its connection) to a body tap: it takes the proxy's cost report off the headers, or puts
  `_aiohttp_body.TappedStreamReader` in place of `response.content` to remove the report from
  a stream, or to meter the body in direct mode. Every other response is left alone.
- `ClientSession._request` propagates. OpenTelemetry's aiohttp instrumentation adds its trace
  config only to sessions created after it was enabled; for the other sessions (and only them,
  so nothing is injected twice) this opens the HTTP CLIENT span and injects
  `traceparent`/`baggage`, as that trace config would have. It also ends the metering of a
  request whose response never started.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from llmobserve import _direct as direct
from llmobserve._direct import DirectCall
from llmobserve._http_span import (
    TRACEPARENT,
    end_http_span,
    fail_http_span,
    inject,
    redacted_url,
    start_http_span,
)
from llmobserve._rollup import BodyTap, Frame, active_frames, read_report
from llmobserve._routing import Router
from proxy.protocol import COST_HEADER_NAME, ROLLUP_HEADER, TARGET_URL_HEADER

log = logging.getLogger("llmobserve")

_MARK = "__llmobserve_original__"
_OFFICIAL = "opentelemetry.instrumentation.aiohttp_client"
# The `ClientRequest` attributes `connect()` reads to choose where to connect (they make up
# `ClientRequest.connection_key`). The proxy hop never goes through the application's own
# HTTP proxy: that one was chosen for the provider URL, not for ours.
_DESTINATION = ("url", "proxy", "proxy_auth", "proxy_headers", "server_hostname")

Coro = Callable[..., Coroutine[Any, Any, Any]]


@dataclass
class _Scope:
    """One `ClientSession._request` call, as its `connect()`s see it."""

    decompress: bool
    calls: list[DirectCall] = field(default_factory=list)
    """Metered requests whose response has not started yet."""


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "llmobserve_aiohttp_request", default=None
)


@dataclass
class _Pending:
    """What `connect()` expects of the response on its connection."""

    call: DirectCall | None  # direct mode: meter it
    frames: tuple[Frame, ...] = ()  # proxy mode: read the cost report back into these
    scope: _Scope | None = None


class AiohttpPatch:
    """Patch the aiohttp module; `remove()` restores it exactly."""

    def __init__(
        self,
        module: ModuleType,
        router: Router | None,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.module = module
        self.router = router
        self.overrides = dict(overrides or {})
        self._applied: list[tuple[type, str]] = []
        # Keyed by the `Connection` that `connect()` returned: one per request.
        self._pending: weakref.WeakKeyDictionary[Any, _Pending] = weakref.WeakKeyDictionary()
        self._reader: Any = None

    def apply(self) -> None:
        aiohttp = self.module
        targets: list[tuple[type, str, Callable[[Coro], Coro]]] = [
            (aiohttp.ClientSession, "_request", self._wrap_request),
            (aiohttp.BaseConnector, "connect", self._wrap_connect),
            (aiohttp.ClientResponse, "start", self._wrap_start),
        ]
        # Check the whole shape before changing anything: a library that changed is left
        # entirely alone (the caller logs one warning), never half patched.
        for cls, name, _ in targets:
            if not callable(cls.__dict__.get(name)):
                raise AttributeError(f"aiohttp.{cls.__name__}.{name} is missing")
        for name in ("trace_configs", "headers"):
            if not isinstance(getattr(aiohttp.ClientSession, name, None), property):
                raise AttributeError(f"aiohttp.ClientSession.{name} is missing")
        if not isinstance(getattr(aiohttp, "TCPConnector", None), type):
            raise AttributeError("aiohttp.TCPConnector is missing")
        from llmobserve._aiohttp_body import TappedStreamReader

        self._reader = TappedStreamReader
        for cls, name, make in targets:
            original = cls.__dict__[name]
            if hasattr(original, _MARK):
                continue  # already patched (idempotent)
            wrapper = make(original)
            setattr(wrapper, _MARK, original)
            setattr(cls, name, wrapper)
            self._applied.append((cls, name))

    def remove(self) -> None:
        for cls, name in reversed(self._applied):
            original = getattr(cls.__dict__.get(name), _MARK, None)
            if original is not None:
                setattr(cls, name, original)
            else:
                log.warning("llmobserve: aiohttp %s.%s was re-wrapped by someone else", cls, name)
        self._applied.clear()

    # -- propagation -----------------------------------------------------------------------

    def _wrap_request(self, original: Coro) -> Coro:
        async def _request(session: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
            try:
                span = _start_span(session, method, str_or_url, kwargs)
            except Exception:  # telemetry never breaks the application
                log.debug("llmobserve: no span for an aiohttp request", exc_info=True)
                span = None
            decompress = kwargs.get("auto_decompress")
            if decompress is None:
                decompress = getattr(session, "auto_decompress", True)
            scope = _Scope(bool(decompress))
            token = _SCOPE.set(scope)
            # Direct-mode call spans start in connect(): under this HTTP span.
            attached = otel_context.attach(trace.set_span_in_context(span)) if span else None
            try:
                response = await original(session, method, str_or_url, **kwargs)
            except BaseException as exc:
                for call in scope.calls:  # no response to read: end their metering
                    call.finish(exc)
                fail_http_span(span, exc)
                raise
            finally:
                if attached is not None:
                    otel_context.detach(attached)
                _SCOPE.reset(token)
            end_http_span(span, response.status)
            return response

        return _request

    # -- routing ---------------------------------------------------------------------------

    def _wrap_connect(self, original: Coro) -> Coro:
        from yarl import URL

        from proxy.resolver import GuardedResolver

        router = self.router
        aiohttp = self.module
        proxy_url = URL(router.proxy_url) if router is not None else None
        # Both are raised while connecting, before any byte of the request is written.
        never_sent = (aiohttp.ClientConnectorError, asyncio.TimeoutError)

        async def connect(connector: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
            host = req.url.raw_host
            if (
                not host
                or "Upgrade" in req.headers  # WebSocket: the proxy relays HTTP exchanges only
                # A proxy running in this process (the demo, tests) forwards through its own
                # session: routed, it would call itself forever; metered, count calls twice.
                or isinstance(getattr(connector, "_resolver", None), GuardedResolver)
            ):
                return await original(connector, req, *args, **kwargs)
            tcp = isinstance(connector, aiohttp.TCPConnector)
            if router is not None and proxy_url is not None and tcp and router.should_route(host):
                try:
                    return await self._connect_to_proxy(
                        original, connector, req, proxy_url, (args, kwargs)
                    )
                except never_sent as exc:
                    router.proxy_failed(exc)  # fail open: go direct
            return await self._connect_direct(original, connector, req, (args, kwargs), tcp=tcp)

        return connect

    async def _connect_to_proxy(
        self,
        original: Coro,
        connector: Any,
        req: Any,
        proxy_url: Any,
        more: tuple[tuple[Any, ...], dict[str, Any]],
    ) -> Any:
        args, kwargs = more
        router = self.router
        assert router is not None
        saved = {name: getattr(req, name) for name in _DESTINATION if hasattr(req, name)}
        target = str(req.url)
        _set(req, url=proxy_url, proxy=None, proxy_auth=None, proxy_headers=None)
        _set(req, server_hostname=None)
        try:
            connection = await original(connector, req, *args, **kwargs)
        except BaseException:
            _set(req, **saved)
            raise
        # The request line and `response.url` come from the provider URL again.
        _set(req, url=saved["url"], server_hostname=saved.get("server_hostname"))
        port = proxy_url.port
        req.headers["Host"] = (
            proxy_url.raw_host if proxy_url.is_default_port() else f"{proxy_url.raw_host}:{port}"
        )
        req.headers[TARGET_URL_HEADER] = target
        req.headers.update(router.proxy_headers)
        frames = active_frames()
        if frames:  # the proxy then reports the call's cost with the response
            req.headers[ROLLUP_HEADER] = "1"
            self._pending[connection] = _Pending(None, frames)
        router.proxy_ok()
        return connection

    async def _connect_direct(
        self,
        original: Coro,
        connector: Any,
        req: Any,
        more: tuple[tuple[Any, ...], dict[str, Any]],
        *,
        tcp: bool,
    ) -> Any:
        args, kwargs = more
        host = req.url.raw_host.lower()
        origin = self.overrides.get(host) if tcp else None
        third_party = direct.is_provider_host(host)
        if not third_party and origin is None:
            return await original(connector, req, *args, **kwargs)
        call = None
        if third_party:
            _strip_our_baggage(req.headers)
            call = await self._begin(req)
        saved = {name: getattr(req, name) for name in _DESTINATION if hasattr(req, name)}
        if origin is not None:
            from yarl import URL

            _set(req, url=URL(origin), proxy=None, proxy_auth=None, proxy_headers=None)
            _set(req, server_hostname=None)
        try:
            connection = await original(connector, req, *args, **kwargs)
        except BaseException as exc:
            _set(req, **saved)
            if call is not None:
                call.finish(exc)
            raise
        # The request line, `Host` and `response.url` stay the provider's.
        _set(req, url=saved["url"], server_hostname=saved.get("server_hostname"))
        if call is not None:
            scope = _SCOPE.get()
            if scope is not None:
                scope.calls.append(call)
            self._pending[connection] = _Pending(call, scope=scope)
        return connection

    async def _begin(self, req: Any) -> DirectCall | None:
        """Start metering a request to a provider whose body is bytes (as httpx's direct mode)."""
        try:
            body = req.body
            if isinstance(body, bytes | bytearray):
                data = bytes(body)
            elif isinstance(body, self.module.payload.BytesPayload):
                data = await body.as_bytes()
            else:
                return None  # a stream or a file: not read here
            url = req.url
            # Asking a stream for its usage rewrites the body: never a signed one.
            rewrite = hasattr(req, "update_body") and not direct.is_signed(req.headers)
            call = direct.begin(
                req.method,
                scheme=url.scheme,
                host=url.raw_host,
                port=url.port,
                path=url.raw_path,
                body=data,
                parent=None,
                inject_stream_usage=rewrite,
                headers=req.headers,
            )
            if call is not None and call.facts.usage_injected:
                await req.update_body(call.body)
                # The usage chunk is removed from the stream again: framing needs plain bytes.
                req.headers["Accept-Encoding"] = "identity"
            return call
        except Exception:
            log.exception("llmobserve: direct-mode metering could not start")
            return None

    # -- responses -------------------------------------------------------------------------

    def _wrap_start(self, original: Coro) -> Coro:
        pending = self._pending

        async def start(response: Any, connection: Any, *args: Any, **kwargs: Any) -> Any:
            expected = pending.pop(connection, None) if pending else None
            if expected is None:
                return await original(response, connection, *args, **kwargs)
            try:
                started = await original(response, connection, *args, **kwargs)
            except BaseException as exc:
                if expected.call is not None:
                    expected.call.finish(exc)
                raise
            if expected.scope is not None and expected.call in expected.scope.calls:
                expected.scope.calls.remove(expected.call)
            try:
                self._tap(response, expected)
            except Exception:  # telemetry never breaks the application
                log.exception("llmobserve: could not read an aiohttp response")
            return started

        return start

    def _tap(self, response: Any, expected: _Pending) -> None:
        headers = response.headers
        tap: BodyTap | None
        if expected.call is not None:
            tap = expected.call.tap(response.status, headers)
            encoding = headers.get("Content-Encoding", "").strip().lower()
            scope = expected.scope
            decompress = scope.decompress if scope is not None else True
            tap.begin(decompress and encoding not in ("", "identity"))
        else:
            report = headers.get(COST_HEADER_NAME)
            if report is not None:
                _drop_header(response, COST_HEADER_NAME)
            tap = read_report(expected.frames, report, headers.get("Content-Type", ""))
            if tap is None:
                return
            tap.begin(False)
        response.content = self._reader(response.content, tap)


def _set(req: Any, **values: Any) -> None:
    for name, value in values.items():
        if name in _DESTINATION and hasattr(req, name):
            setattr(req, name, value)


def _strip_our_baggage(headers: Any) -> None:
    values = headers.getall("baggage", ())
    if not values:
        return
    kept = direct.without_our_baggage(",".join(values))
    del headers["baggage"]
    if kept:
        headers["baggage"] = kept


def _drop_header(response: Any, name: str) -> None:
    """Remove a header from a started response: its headers are a read-only view, kept in
    `_headers` and cached by the `headers` property (`reify`, read by `start()` already)."""
    from multidict import CIMultiDict, CIMultiDictProxy

    headers = CIMultiDict(response.headers)
    del headers[name]
    raw = name.encode()
    values = {
        "headers": CIMultiDictProxy(headers),
        "raw_headers": tuple((k, v) for k, v in response.raw_headers if k.lower() != raw),
    }
    cache = getattr(response, "_cache", None)
    for attribute, value in values.items():
        setattr(response, f"_{attribute}", value)
        if isinstance(cache, dict) and attribute in cache:
            cache[attribute] = value


def _start_span(session: Any, method: str, str_or_url: Any, kwargs: dict[str, Any]) -> Any:
    """Open the span and inject into `kwargs["headers"]` - unless someone else propagates."""
    from multidict import CIMultiDict
    from yarl import URL

    headers: CIMultiDict[str] = CIMultiDict(kwargs.get("headers") or {})
    if TRACEPARENT in headers or TRACEPARENT in session.headers:
        return None  # the application (or the proxy's own tracing) set it already
    if any(_is_official(config) for config in session.trace_configs):
        return None  # OpenTelemetry's instrumentation covers this session
    build = getattr(session, "_build_url", URL)  # joins a relative URL with `base_url`
    url = build(str_or_url)
    if not url.absolute or not url.raw_host:
        return None
    has_query = bool(url.raw_query_string or kwargs.get("params"))
    netloc = url.raw_host if url.is_default_port() else f"{url.raw_host}:{url.port}"
    span = start_http_span(
        method.upper(),
        url.scheme,
        url.raw_host,
        url.port,
        redacted_url(url.scheme, netloc, url.raw_path, has_query),
    )
    if span is not None:
        inject(headers, span)
        kwargs["headers"] = headers
    return span


def _is_official(config: Any) -> bool:
    if getattr(config, "_is_instrumented_by_opentelemetry", False):
        return True
    handlers = getattr(config, "on_request_start", ())
    return any(getattr(h, "__module__", "").startswith(_OFFICIAL) for h in handlers)
