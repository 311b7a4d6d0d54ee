"""Proxy mode: which requests go through the proxy, and failing open when it is away.

A request to a known provider host (or a host in `LLMOBSERVE_ALLOWED_HOSTS`) is sent to the
proxy with `X-LLMObserve-Target-URL` naming the original URL. If the proxy cannot be reached,
the request goes directly to the provider, one warning is logged, and the proxy is skipped for
`retry_after` seconds (a circuit breaker) before it is tried again.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from urllib.parse import urlsplit

from proxy.protocol import PROXY_TOKEN_HEADER
from proxy.providers.catalog import host_matches, provider_for_host

log = logging.getLogger("llmobserve")

DEFAULT_RETRY_AFTER = 30.0


class Router:
    def __init__(
        self,
        proxy_url: str,
        extra_hosts: tuple[str, ...] = (),
        retry_after: float = DEFAULT_RETRY_AFTER,
        *,
        proxy_token: str | None = None,
    ) -> None:
        parts = urlsplit(proxy_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"proxy URL {proxy_url!r} is not an absolute http(s) URL")
        self.proxy_url = proxy_url.rstrip("/")
        self.proxy_host = parts.hostname
        self.proxy_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._extra_hosts = extra_hosts
        self._retry_after = retry_after
        self.proxy_headers: dict[str, str] = (
            {PROXY_TOKEN_HEADER: proxy_token} if proxy_token else {}
        )
        """Headers every request to the proxy carries (its token, when it has one)."""
        self._open_until = 0.0
        self._lock = threading.Lock()
        self._is_routed = lru_cache(maxsize=1024)(self._routed_host)

    def _routed_host(self, host: str) -> bool:
        if provider_for_host(host) is not None:
            return True
        return any(host_matches(host, pattern) for pattern in self._extra_hosts)

    def should_route(self, host: str) -> bool:
        """True when a request to `host` goes through the proxy now."""
        if not self._is_routed(host.lower()):
            return False
        return not (self._open_until and time.monotonic() < self._open_until)

    def proxy_failed(self, error: BaseException) -> None:
        """The proxy could not be reached: go direct for a while, say so once."""
        with self._lock:
            already_open = self._open_until > 0.0
            self._open_until = time.monotonic() + self._retry_after
        if not already_open:
            log.warning(
                "llmobserve: proxy %s unreachable (%s); calling providers directly and "
                "retrying the proxy in %.0fs",
                self.proxy_url,
                type(error).__name__,
                self._retry_after,
            )

    def proxy_ok(self) -> None:
        if self._open_until:
            with self._lock:
                self._open_until = 0.0
            log.warning("llmobserve: proxy %s reachable again", self.proxy_url)
