"""Where a request to the proxy is going: the provider URL, and where to connect for it.

Two ways in (see `semconv` `llmobserve.proxy.route`):
- the SDK's proxy mode sends `X-LLMObserve-Target-URL: <absolute provider URL>`;
- any other client uses a base URL such as `http://proxy:9000/openai/v1`, so the first path
  segment names the provider and the rest is the provider path.
Targets outside the known providers and `LLMOBSERVE_ALLOWED_HOSTS` are refused, and so are IP
literals in non-public networks (`proxy.security`; names are checked after DNS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from proxy.providers.catalog import Provider, host_matches, provider_for_host, provider_for_prefix
from proxy.security import address_refusal, literal_address
from proxy.settings import IPNetwork, Settings
from semconv import LlmobserveProxyRouteValues

_DEFAULT_PORTS = {"http": 80, "https": 443}
# A URL as it may travel in a request line: printable ASCII, no spaces (RFC 3986 section 2).
# `urlsplit` silently drops tabs and newlines, so they must be refused before it runs.
_URL_CHARACTERS = re.compile(r"[\x21-\x7e]+")
_REQUEST_LINE_BREAKERS = re.compile(r"[\x00-\x20\x7f]")


class RoutingError(Exception):
    """The request cannot be forwarded; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    """Raw (still percent-encoded) path, exactly as the client sent it."""
    query: str
    provider: Provider | None
    route: str
    connect_origin: str
    """`scheme://host:port` actually connected to (differs under an upstream override)."""

    @property
    def host_header(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme)
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @property
    def request_target(self) -> str:
        """Path and query as the request line carries them."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def connect_url(self) -> str:
        return f"{self.connect_origin}{self.request_target}"


def resolve(raw_path: str, query: str, target_header: str | None, settings: Settings) -> Target:
    if target_header is not None:
        return _from_header(target_header, settings)
    return _from_prefix(raw_path, query, settings)


def _from_header(value: str, settings: Settings) -> Target:
    value = value.strip()
    if not _URL_CHARACTERS.fullmatch(value):
        raise RoutingError(400, "X-LLMObserve-Target-URL has characters a URL may not contain")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RoutingError(400, "X-LLMObserve-Target-URL must be an absolute http(s) URL")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise RoutingError(400, "X-LLMObserve-Target-URL has an invalid port") from None
    return _target(
        parts.scheme,
        parts.hostname,
        port,
        path=parts.path or "/",
        query=parts.query,
        route=LlmobserveProxyRouteValues.TARGET_HEADER,
        settings=settings,
    )


def _from_prefix(raw_path: str, query: str, settings: Settings) -> Target:
    if _REQUEST_LINE_BREAKERS.search(raw_path) or _REQUEST_LINE_BREAKERS.search(query):
        # HTTP parsers refuse these; an ASGI server in front that did not must not get them
        # into the request line the proxy writes upstream.
        raise RoutingError(400, "the request path has characters a URL may not contain")
    prefix, _, rest = raw_path.lstrip("/").partition("/")
    provider = provider_for_prefix(prefix)
    if provider is None:
        raise RoutingError(
            404,
            f"no provider is served at /{prefix}: send X-LLMObserve-Target-URL or use a "
            "base URL such as /openai/v1 or /anthropic",
        )
    scheme, host, port, base_path = _base(provider.base_url)
    return _target(
        scheme,
        host,
        port,
        path=base_path + "/" + rest,
        query=query,
        route=LlmobserveProxyRouteValues.BASE_URL,
        settings=settings,
    )


@lru_cache(maxsize=256)  # a catalog's base URLs: parsed once, not on every call
def _base(base_url: str) -> tuple[str, str, int, str]:
    base = urlsplit(base_url)
    assert base.hostname is not None
    return (
        base.scheme,
        base.hostname,
        base.port or _DEFAULT_PORTS[base.scheme],
        base.path.rstrip("/"),
    )


@lru_cache(maxsize=1024)  # a host name costs a failed IP parse (an exception) every time
def _literal_refusal(host: str, allowed_networks: tuple[IPNetwork, ...]) -> str | None:
    address = literal_address(host)
    return None if address is None else address_refusal(address, allowed_networks)


def _target(
    scheme: str, host: str, port: int, *, path: str, query: str, route: str, settings: Settings
) -> Target:
    host = host.lower().rstrip(".")
    provider = provider_for_host(host)
    if provider is None and not any(host_matches(host, p) for p in settings.allowed_hosts):
        raise RoutingError(
            403,
            f"target host {host!r} is not a known provider; "
            "add it to LLMOBSERVE_ALLOWED_HOSTS to allow it",
        )
    origin = settings.upstream_overrides.get(host)
    if origin is None:
        refusal = _literal_refusal(host, settings.allowed_networks)
        if refusal:
            raise RoutingError(
                403,
                f"target {host} is {refusal}; add its network to LLMOBSERVE_ALLOWED_NETWORKS "
                "to allow it",
            )
        origin = f"{scheme}://{host}:{port}"
    return Target(scheme, host, port, path, query, provider, route, origin)
