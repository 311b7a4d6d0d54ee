"""Proxy routing for `requests` (propagation comes from the official instrumentation).

Patches `HTTPAdapter.send`, below `Session.send` where OpenTelemetry's requests
instrumentation opens its span and injects the headers, so the span shows the provider URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from llmobserve._routing import Router
from proxy.protocol import TARGET_URL_HEADER

log = logging.getLogger("llmobserve")

_MARK = "__llmobserve_original__"


class RequestsPatch:
    def __init__(self, router: Router) -> None:
        self.router = router
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
            if not parts.hostname or not router.should_route(parts.hostname):
                return original(adapter, request, *args, **kwargs)
            proxied = request.copy()
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            proxied.url = router.proxy_url + path
            proxied.headers[TARGET_URL_HEADER] = request.url
            # Environment proxies were chosen for the provider URL, not for ours.
            proxy_kwargs = {**kwargs, "proxies": {}}
            try:
                response = original(adapter, proxied, *args, **proxy_kwargs)
            except RequestsConnectionError as exc:
                if not _never_sent(exc):
                    raise  # the proxy may have forwarded it: retrying could bill twice
                router.proxy_failed(exc)
                return original(adapter, request, *args, **kwargs)
            router.proxy_ok()
            # The application sees the response of the URL it asked for.
            response.url = request.url
            response.request = request
            return response

        return send


def _never_sent(exc: BaseException) -> bool:
    """True when the connection to the proxy failed before any byte of the request left."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError (refused, unresolvable) is a subclass of ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)
