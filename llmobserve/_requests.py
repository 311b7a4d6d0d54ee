"""Proxy routing and direct-mode metering for `requests` (propagation comes from the official
instrumentation).

Patches `HTTPAdapter.send`, below `Session.send` where OpenTelemetry's requests
instrumentation opens its span and injects the headers, so the span shows the provider URL.

- Proxy mode: a request to a provider goes to the proxy (inside a section, asking for the
  call's cost, which is taken off the response before the application sees it).
- Direct mode (no proxy, or the proxy unreachable): a request to a metered provider endpoint
  is metered in-process (`_direct`) as the application reads the body (`_urllib3_body`), loses
  our baggage entries, and goes to its `LLMOBSERVE_UPSTREAM_OVERRIDES` origin when it has one,
  `Host` still the provider's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from llmobserve import _direct as direct
from llmobserve._direct import DirectCall
from llmobserve._rollup import active_frames, read_report
from llmobserve._routing import Router
from llmobserve._urllib3_body import TappedUrllib3Body
from proxy.protocol import COST_HEADER_NAME, ROLLUP_HEADER, TARGET_URL_HEADER

log = logging.getLogger("llmobserve")

_MARK = "__llmobserve_original__"


class RequestsPatch:
    def __init__(self, router: Router | None, overrides: Mapping[str, str] | None = None) -> None:
        self.router = router
        self.overrides = dict(overrides or {})
        self._adapter: type | None = None

    def apply(self) -> None:
        import requests.adapters

        adapter = requests.adapters.HTTPAdapter
        original = adapter.__dict__.get("send")
        if original is None or hasattr(original, _MARK):
            return
        wrapper = self._wrap(original)
        setattr(wrapper, _MARK, original)
        adapter.send = wrapper  # type: ignore[method-assign]
        self._adapter = adapter

    def remove(self) -> None:
        if self._adapter is None:
            return
        original = getattr(self._adapter.__dict__.get("send"), _MARK, None)
        if original is not None:
            self._adapter.send = original  # type: ignore[attr-defined]
        self._adapter = None

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        from requests.exceptions import ConnectionError as RequestsConnectionError

        router = self.router

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            parts = urlsplit(request.url)
            host = parts.hostname or ""
            if router is not None and host and router.should_route(host):
                try:
                    return self._routed(original, adapter, request, args, kwargs)
                except RequestsConnectionError as exc:
                    if not _never_sent(exc):
                        raise  # the proxy may have forwarded it: retrying could bill twice
                    router.proxy_failed(exc)
            return self._direct(original, adapter, request, args, kwargs)

        return send

    def _routed(
        self,
        original: Callable[..., Any],
        adapter: Any,
        request: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        router = self.router
        assert router is not None
        parts = urlsplit(request.url)
        proxied = request.copy()
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        proxied.url = router.proxy_url + path
        proxied.headers[TARGET_URL_HEADER] = request.url
        proxied.headers.update(router.proxy_headers)
        frames = active_frames()
        if frames:  # the proxy then reports the call's cost with the response
            proxied.headers[ROLLUP_HEADER] = "1"
        # Environment proxies were chosen for the provider URL, not for ours.
        response = original(adapter, proxied, *args, **{**kwargs, "proxies": {}})
        router.proxy_ok()
        # The application sees the response of the URL it asked for.
        response.url = request.url
        response.request = request
        if frames:
            report = response.headers.pop(COST_HEADER_NAME, None)
            raw_headers = getattr(response.raw, "headers", None)
            if raw_headers is not None and COST_HEADER_NAME in raw_headers:
                del raw_headers[COST_HEADER_NAME]
            tap = read_report(frames, report, response.headers.get("content-type", ""))
            if tap is not None:
                response.raw = TappedUrllib3Body(response.raw, tap)
        return response

    def _direct(
        self,
        original: Callable[..., Any],
        adapter: Any,
        request: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        host = urlsplit(request.url).hostname or ""
        origin = self.overrides.get(host)
        third_party = bool(host) and direct.is_provider_host(host)
        if not third_party and origin is None:
            return original(adapter, request, *args, **kwargs)
        call = _begin(request) if third_party else None
        sent = request.copy()
        if third_party:
            _strip_our_baggage(sent.headers)
        if call is not None and call.facts.usage_injected:
            sent.body = call.body
            sent.headers["Content-Length"] = str(len(sent.body))
            # The usage chunk is removed from the stream again: framing needs plain bytes.
            sent.headers["Accept-Encoding"] = "identity"
        if origin is not None:
            parts = urlsplit(request.url)
            sent.url = origin + parts.path + (f"?{parts.query}" if parts.query else "")
            sent.headers["Host"] = parts.netloc
            kwargs = {**kwargs, "proxies": {}}  # chosen for the provider URL, not the origin
        try:
            response = original(adapter, sent, *args, **kwargs)
        except BaseException as exc:
            if call is not None:
                call.finish(exc)
            raise
        response.url = request.url
        response.request = request
        if call is not None:
            tap = call.tap(response.status_code, response.headers)
            response.raw = TappedUrllib3Body(response.raw, tap)
        return response


def _begin(request: Any) -> DirectCall | None:
    """Start metering a request to a provider whose body is bytes (as httpx's direct mode)."""
    # The parent is the current span: the requests instrumentation's HTTP span.
    return direct.begin_prepared(request, parent=None, may_rewrite=True)


def _strip_our_baggage(headers: Any) -> None:
    value = headers.get("baggage")
    if value is None:
        return
    kept = direct.without_our_baggage(value)
    del headers["baggage"]
    if kept:
        headers["baggage"] = kept


def _never_sent(exc: BaseException) -> bool:
    """True when the connection to the proxy failed before any byte of the request left."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError (refused, unresolvable) is a subclass of ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)
