"""What the proxy refuses, and why: it holds paid API keys' traffic, so it must not be a door.

- **SSRF.** Targets are limited to known providers and `LLMOBSERVE_ALLOWED_HOSTS` (see
  `proxy.routing`). Even then the proxy never connects to a loopback, private, link-local (cloud
  metadata, 169.254.169.254), shared (CGNAT), multicast or reserved address unless
  `LLMOBSERVE_ALLOWED_NETWORKS` names it: IP literals are checked when routing, names by
  `GuardedResolver` after DNS, on the very addresses the connection then uses (no gap for DNS
  rebinding). `LLMOBSERVE_UPSTREAM_OVERRIDES` origins are the operator's explicit choice and
  are exempt. Redirects are never followed (`allow_redirects=False` in `proxy.handler`).
- **Open relay.** A configured `LLMOBSERVE_PROXY_TOKEN` is required on every call
  (`X-LLMObserve-Proxy-Token`, stripped like every `X-LLMObserve-*` header). Without one, only
  loopback clients are served unless `LLMOBSERVE_ALLOW_OPEN_PROXY=true`; `llmobserve-proxy`
  refuses to bind beyond loopback in that state (`bind_refusal`).
- **Headers.** Names must be RFC 9110 tokens and values free of control characters (CR, LF,
  NUL, ...), whatever the HTTP server in front let through.
- **Labels.** Customer ids and section paths come from the caller: `clean_label` caps them and
  removes control and invisible formatting characters before they become attributes.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from proxy.protocol import PROXY_TOKEN_HEADER
from proxy.settings import IPNetwork, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_LABEL_CHARS = 256

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TOKEN_HEADER = PROXY_TOKEN_HEADER.encode()
# RFC 9110 5.1 (field-name = token) and 5.5 (field-value: no CTL but HTAB; obs-text allowed).
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Every name at once, tab-separated (a tab is no token character): one regex call a request.
_FIELD_NAMES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\t[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")
_BAD_FIELD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# C0, DEL and C1 controls; zero-width and bidirectional formatting characters (which can make
# one label display as another); line and paragraph separators; the byte-order mark.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u206f\ufeff\ufff9-\ufffb]"
)


class ForbiddenAddress(OSError):
    """A target name resolved only to addresses the proxy may not connect to."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host} resolves to {reason}")
        self.host = host
        self.reason = reason


def address_refusal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why connecting to `address` is refused, or None when it is public or allowed."""
    allowed = tuple(allowed)
    if any(address.version == net.version and address in net for net in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches that IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded, allowed)
    for kind, refused in _REFUSED_KINDS:
        if refused(address):
            return f"{kind} ({address})"
    return None


_REFUSED_KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("a loopback address", lambda a: a.is_loopback),
    ("a link-local address (cloud metadata lives there)", lambda a: a.is_link_local),
    ("a shared (CGNAT) address", lambda a: a.version == 4 and a in _CGNAT),
    (
        "a non-unicast or reserved address",
        lambda a: a.is_multicast or a.is_unspecified or a.is_reserved,
    ),
    ("a private address", lambda a: a.is_private or not a.is_global),
)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def exempt_hosts(settings: Settings) -> frozenset[str]:
    """Hosts of the upstream override origins (the operator chose them explicitly)."""
    hosts = set()
    for origin in settings.upstream_overrides.values():
        host = origin.split("://", 1)[-1].rsplit("@", 1)[-1]
        host = host[1 : host.index("]")] if host.startswith("[") else host.split(":", 1)[0]
        hosts.add(host.lower())
    return frozenset(hosts)


def request_refusal(
    scope: Mapping[str, Any], headers: list[tuple[bytes, bytes]], settings: Settings
) -> tuple[int, str, str] | None:
    """(status, error type, message) when a request is refused before routing, else None."""
    refusal = access_refusal(scope, headers, settings)
    if refusal is not None:
        return refusal
    problem = header_refusal(headers)
    return None if problem is None else (400, "invalid_header", problem)


def header_refusal(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why the request's headers are refused (400), or None. Never echoes a value."""
    headers = list(headers)
    # All names and all values checked at once, tab-joined (a tab is allowed in a value and
    # is no token character: a name holding one shows in the count); header by header only
    # to say which one is wrong.
    names = b"\t".join([name for name, _ in headers])
    values = b"\t".join([value for _, value in headers])
    if (
        _FIELD_NAMES.fullmatch(names)
        and names.count(b"\t") == len(headers) - 1
        and not _BAD_FIELD_VALUE.search(values)
    ):
        return None
    for name, value in headers:
        if not _FIELD_NAME.fullmatch(name):
            return f"header name {name[:64]!r} is not a valid HTTP token"
        if _BAD_FIELD_VALUE.search(value):
            return f"header {name.decode('ascii')[:64]} has a control character in its value"
    return None


def access_refusal(
    scope: Mapping[str, Any], headers: Iterable[tuple[bytes, bytes]], settings: Settings
) -> tuple[int, str, str] | None:
    """(status, error type, message) when the caller may not use the proxy, else None."""
    token = settings.proxy_token
    if token is not None:
        presented = next((v for k, v in headers if k == _TOKEN_HEADER), None)
        if presented is not None and hmac.compare_digest(presented, token.encode()):
            return None
        return (
            401,
            "proxy_token_required",
            f"this proxy requires its token in the {PROXY_TOKEN_HEADER} header "
            "(LLMOBSERVE_PROXY_TOKEN)",
        )
    if settings.allow_open_proxy or _loopback_client(scope):
        return None
    return (
        403,
        "open_proxy_refused",
        "this proxy serves loopback clients only: set LLMOBSERVE_PROXY_TOKEN (clients send it "
        f"in {PROXY_TOKEN_HEADER}) or LLMOBSERVE_ALLOW_OPEN_PROXY=true",
    )


def _loopback_client(scope: Mapping[str, Any]) -> bool:
    client = scope.get("client")
    if not client:  # a Unix socket, or a server that does not say: local by construction
        return True
    return _is_loopback(str(client[0]))


@lru_cache(maxsize=1024)  # parsing an address costs more than the rest of the checks
def _is_loopback(host: str) -> bool:
    address = literal_address(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def bind_refusal(host: str, settings: Settings) -> str | None:
    """Why `llmobserve-proxy --host HOST` must not start as configured, or None."""
    if settings.proxy_token is not None or settings.allow_open_proxy:
        return None
    address = literal_address(host)
    if host.lower() == "localhost" or (address is not None and address.is_loopback):
        return None
    return (
        f"--host {host} makes the proxy reachable beyond this machine: set "
        "LLMOBSERVE_PROXY_TOKEN (clients send it in X-LLMObserve-Proxy-Token) or, on a "
        "network you trust, LLMOBSERVE_ALLOW_OPEN_PROXY=true"
    )


def clean_label(value: str) -> str:
    """An untrusted customer id or section path, safe to put on a span or a metric."""
    return _UNPRINTABLE.sub("", value)[:MAX_LABEL_CHARS]
