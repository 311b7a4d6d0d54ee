"""Proxy routing and trace propagation for botocore (boto3) and the urllib3 pool it drives.

The seam is `botocore.httpsession.URLLib3Session.send(request)`, the HTTP-session interface
botocore's `Endpoint` calls once per attempt (aiobotocore swaps in an aiohttp session, which
the aiohttp patch covers instead):

- the request it gets is an `AWSPreparedRequest` that was signed with SigV4 before it was
  prepared, so the headers added here (`traceparent`, `baggage`, `X-LLMObserve-Target-URL`)
  are never in `SignedHeaders`, and each retry is signed afresh and comes through again;
- its URL holds the path and query exactly as they were signed (`%3A` in Bedrock model ids,
  `%2F` in tokens): the copy sent to the proxy keeps them byte for byte in the target URL,
  and the proxy forwards them byte for byte with `Host` set to the real endpoint, so the
  signature still verifies there;
- it maps urllib3's errors to botocore's, so "the proxy refused the connection"
  (`EndpointConnectionError`, `ConnectTimeoutError`: nothing was sent) is easy to tell from a
  failure after the request left, which is never retried here (it could bill twice).

Lower, `urllib3.HTTPConnectionPool.urlopen` also serves `requests` (routed at its adapter
already) and sees a pool bound to one host, not a URL. Higher, a `before-send` event handler
must be registered on every client, including those created before `observe()`, and answers
in place of the HTTP call rather than around it.

The span opened here is the HTTP span (OpenTelemetry's botocore instrumentation, if enabled,
opens the API-call span above it); urllib3's instrumentation is suppressed underneath so the
call is not traced twice.

Inside a section the proxy hop also asks for the call's cost (`X-LLMObserve-Rollup`, added
after signing like the rest), read back from the response headers, or for event streams
(ConverseStream, InvokeModelWithResponseStream) from one last message that is removed from
the body before botocore parses it (`_rollup.CostMessageFilter`): the application never sees
either. A call that goes direct to AWS (no proxy, or the proxy unreachable) is metered
in-process (`_direct`), observing the body only - it is signed, so it is never rewritten -
loses our baggage entries, and goes to its `LLMOBSERVE_UPSTREAM_OVERRIDES` origin when it has
one, with `Host` still the signed one. Botocore reads the body of a non-streaming operation
inside `send()`, so that body is metered at once; a streaming one (`InvokeModel`'s `body`,
Polly's audio, event streams) as the application reads it (`_urllib3_body`).
"""

from __future__ import annotations

import copy
import importlib
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.instrumentation.utils import suppress_http_instrumentation

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
from llmobserve._rollup import BodyTap, active_frames, read_report
from llmobserve._routing import Router
from llmobserve._urllib3_body import TappedUrllib3Body
from proxy.protocol import COST_HEADER_NAME, ROLLUP_HEADER, TARGET_URL_HEADER

log = logging.getLogger("llmobserve")

_MARK = "__llmobserve_original__"


class BotocorePatch:
    """Patch `URLLib3Session.send`; `remove()` restores it exactly."""

    def __init__(self, router: Router | None, overrides: Mapping[str, str] | None = None) -> None:
        self.router = router
        self.overrides = dict(overrides or {})
        self._session_class: Any = None
        # The hop to the proxy bypasses the proxies botocore chose for the AWS endpoint
        # (`proxies` config or HTTPS_PROXY): a copy of the application's session without them,
        # sharing its direct connection pool, timeouts and TLS settings.
        self._direct_sessions: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def apply(self) -> None:
        httpsession = importlib.import_module("botocore.httpsession")
        exceptions = importlib.import_module("botocore.exceptions")
        session_class = httpsession.URLLib3Session
        original = session_class.__dict__.get("send")
        if not callable(original):
            raise AttributeError("botocore.httpsession.URLLib3Session.send is missing")
        never_sent = (exceptions.EndpointConnectionError, exceptions.ConnectTimeoutError)
        if hasattr(original, _MARK):
            return  # already patched (idempotent)
        wrapper = self._wrap(original, never_sent)
        setattr(wrapper, _MARK, original)
        session_class.send = wrapper
        self._session_class = session_class

    def remove(self) -> None:
        session_class, self._session_class = self._session_class, None
        if session_class is None:
            return
        original = getattr(session_class.__dict__.get("send"), _MARK, None)
        if original is not None:
            session_class.send = original
        else:
            log.warning("llmobserve: URLLib3Session.send was re-wrapped by someone else")
        with self._lock:
            self._direct_sessions.clear()

    def _wrap(
        self, original: Callable[..., Any], never_sent: tuple[type[BaseException], ...]
    ) -> Callable[..., Any]:
        router = self.router

        def send(session: Any, request: Any) -> Any:
            span, extra = _start_span(request)
            try:
                # Our span is the HTTP span: urllib3's instrumentation, if enabled, adds none.
                with suppress_http_instrumentation():
                    host = urlsplit(request.url).hostname or ""
                    response = None
                    if router is not None and host and router.should_route(host):
                        response = self._routed(session, request, extra, original, never_sent)
                    if response is None:
                        response = self._direct(session, request, extra, original, span=span)
            except BaseException as exc:
                fail_http_span(span, exc)
                raise
            end_http_span(span, response.status_code)
            return response

        return send

    def _routed(
        self,
        session: Any,
        request: Any,
        extra: dict[str, str],
        original: Callable[..., Any],
        never_sent: tuple[type[BaseException], ...],
    ) -> Any:
        """The response through the proxy; None when the proxy could not be reached."""
        router = self.router
        assert router is not None
        parts = urlsplit(request.url)  # splits without decoding: the signed bytes stay as is
        proxy = urlsplit(router.proxy_url)
        hop = {**extra, **router.proxy_headers, TARGET_URL_HEADER: request.url}
        frames = active_frames()
        if frames:  # the proxy then reports the call's cost with the response
            hop[ROLLUP_HEADER] = "1"
        proxied = self._with_headers(request, hop)
        proxied.url = urlunsplit((proxy.scheme, proxy.netloc, parts.path or "/", parts.query, ""))
        try:
            response = original(self._hop_session(session, router.proxy_url), proxied)
        except never_sent as exc:
            router.proxy_failed(exc)
            return None
        router.proxy_ok()
        response.url = request.url  # the application sees the URL it asked for
        if frames:
            report = _pop_header(response, COST_HEADER_NAME)
            tap = read_report(frames, report, response.headers.get("content-type", ""))
            if tap is not None:
                _tap_body(request, response, tap)
        return response

    def _direct(
        self,
        session: Any,
        request: Any,
        extra: dict[str, str],
        original: Callable[..., Any],
        *,
        span: Any,
    ) -> Any:
        host = urlsplit(request.url).hostname or ""
        origin = self.overrides.get(host)
        third_party = bool(host) and direct.is_provider_host(host)
        if not third_party and origin is None:
            return original(session, self._with_headers(request, extra))
        call = _begin(request, span) if third_party else None
        sent = self._with_headers(request, extra, private=third_party)
        if origin is not None:
            parts, base = urlsplit(request.url), urlsplit(origin)
            sent = self._with_headers(sent, {"Host": parts.netloc})  # the signed host
            sent.url = urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, ""))
            session = self._hop_session(session, origin)
        try:
            response = original(session, sent)
        except BaseException as exc:
            if call is not None:
                call.finish(exc)
            raise
        response.url = request.url
        if call is not None:
            _tap_body(request, response, call.tap(response.status_code, response.headers))
        return response

    def _hop_session(self, session: Any, url: str) -> Any:
        """The session for a hop to `url` (the proxy, an override origin): without the
        proxies botocore chose for the AWS endpoint."""
        config = getattr(session, "_proxy_config", None)
        if config is None or not config.proxy_url_for(url):
            return session
        with self._lock:
            direct_session = self._direct_sessions.get(session)
            if direct_session is None:
                direct_session = copy.copy(session)
                direct_session._proxy_config = type(config)()
                self._direct_sessions[session] = direct_session
            return direct_session

    def _with_headers(self, request: Any, extra: dict[str, str], *, private: bool = False) -> Any:
        """A copy of the prepared request with `extra` headers (and, when `private`, without
        our baggage entries); the signed original (and its headers) stay untouched, so a
        retry is signed from a clean request."""
        if not extra and not (private and "baggage" in request.headers):
            return request
        headers = request.headers.copy()  # botocore's case-insensitive `HeadersDict`
        for name, value in extra.items():
            headers[name] = value
        if private and "baggage" in headers:
            kept = direct.without_our_baggage(_text(headers["baggage"]))
            del headers["baggage"]
            if kept:
                headers["baggage"] = kept
        copied = copy.copy(request)
        copied.headers = headers
        return copied


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _begin(request: Any, span: Any) -> DirectCall | None:
    """Start metering a call to AWS; its body is read, never rewritten (it is signed)."""
    return direct.begin_prepared(request, parent=span, may_rewrite=False)


def _pop_header(response: Any, name: str) -> str | None:
    """Remove a header from the response botocore parses (and from its urllib3 response)."""
    value = response.headers.pop(name, None)
    raw_headers = getattr(response.raw, "headers", None)
    if raw_headers is not None and name in raw_headers:
        del raw_headers[name]
    return _text(value) if value is not None else None


def _tap_body(request: Any, response: Any, tap: BodyTap) -> None:
    if getattr(request, "stream_output", True):
        response.raw = TappedUrllib3Body(response.raw, tap)
        return
    # Non-streaming operations: `URLLib3Session.send` has read the body already.
    try:
        tap.begin(False)
        content = response.content
        passed = tap.feed(content) + tap.close()
    except Exception:  # telemetry never breaks the application
        log.exception("llmobserve: could not read a botocore response")
        return
    if passed != content:
        response._content = passed


def _start_span(request: Any) -> tuple[Any, dict[str, str]]:
    """The span for one attempt, and the headers that propagate it."""
    if TRACEPARENT in request.headers:
        return None, {}  # the application propagates itself
    try:
        parts = urlsplit(request.url)
        span = start_http_span(
            request.method,
            parts.scheme,
            parts.hostname or "",
            parts.port,
            redacted_url(parts.scheme, parts.netloc, parts.path, bool(parts.query)),
        )
    except Exception:  # telemetry never breaks the application
        log.debug("llmobserve: no span for a botocore request", exc_info=True)
        return None, {}
    if span is None:
        return None, {}
    carrier: dict[str, str] = {}
    inject(carrier, span)
    return span, carrier
