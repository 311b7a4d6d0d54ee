"""Proxy configuration, read once from `LLMOBSERVE_*` environment variables.

A malformed value stops the proxy at start-up with the variable named; it never surfaces as a
failed request later.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """An `LLMOBSERVE_*` variable has a value the proxy cannot use."""


@dataclass(frozen=True)
class Settings:
    allowed_hosts: tuple[str, ...] = ()
    """Extra target hosts (`LLMOBSERVE_ALLOWED_HOSTS`), exact or `*.example.com`."""
    upstream_overrides: Mapping[str, str] = field(default_factory=dict)
    """host -> origin (`LLMOBSERVE_UPSTREAM_OVERRIDES`): where that host's calls really go."""
    upstream_timeout: float = 600.0
    """Seconds without a byte from upstream before the call fails with 504."""
    connect_timeout: float = 10.0
    max_request_bytes: int = 32 * 1024 * 1024
    """Request bodies the proxy reads to find the model (larger ones are refused with 413)."""
    max_streamed_request_bytes: int = 2 * 1024**3
    """Request bodies streamed through unread (uploads); larger ones are refused with 413."""
    max_parse_bytes: int = 16 * 1024 * 1024
    """Response bytes parsed for usage; larger responses stream through unparsed."""
    inject_stream_usage: bool = True
    """Ask OpenAI-style streams for usage when the client did not (and hide it again)."""
    metrics_attribution: bool = False
    """Add customer id and section path to metrics (`LLMOBSERVE_METRICS_ATTRIBUTION`)."""
    allowed_networks: tuple[IPNetwork, ...] = ()
    """Non-public networks targets may resolve to (`LLMOBSERVE_ALLOWED_NETWORKS`); every other
    loopback, private, link-local or metadata address is refused (see `proxy.security`)."""
    proxy_token: str | None = field(default=None, repr=False)
    """Shared secret clients send in `X-LLMObserve-Proxy-Token` (`LLMOBSERVE_PROXY_TOKEN`)."""
    allow_open_proxy: bool = False
    """Serve non-loopback clients without a token (`LLMOBSERVE_ALLOW_OPEN_PROXY`)."""
    shutdown_grace: float = 25.0
    """Seconds SIGTERM waits for in-flight calls, streams included (`LLMOBSERVE_SHUTDOWN_GRACE`)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            allowed_hosts=_hosts(env.get("LLMOBSERVE_ALLOWED_HOSTS", "")),
            upstream_overrides=parse_overrides(env.get("LLMOBSERVE_UPSTREAM_OVERRIDES", "")),
            upstream_timeout=_positive(env, "LLMOBSERVE_UPSTREAM_TIMEOUT", 600.0),
            connect_timeout=_positive(env, "LLMOBSERVE_CONNECT_TIMEOUT", 10.0),
            max_request_bytes=_byte_count(env, "LLMOBSERVE_MAX_REQUEST_BYTES", 32 * 2**20),
            max_streamed_request_bytes=_byte_count(
                env, "LLMOBSERVE_MAX_STREAMED_REQUEST_BYTES", 2 * 2**30
            ),
            max_parse_bytes=_byte_count(env, "LLMOBSERVE_MAX_PARSE_BYTES", 16 * 2**20),
            inject_stream_usage=_flag(env, "LLMOBSERVE_INJECT_STREAM_USAGE", default=True),
            metrics_attribution=_flag(env, "LLMOBSERVE_METRICS_ATTRIBUTION", default=False),
            allowed_networks=_networks(env.get("LLMOBSERVE_ALLOWED_NETWORKS", "")),
            proxy_token=_token(env.get("LLMOBSERVE_PROXY_TOKEN", "")),
            allow_open_proxy=_flag(env, "LLMOBSERVE_ALLOW_OPEN_PROXY", default=False),
            shutdown_grace=_positive(env, "LLMOBSERVE_SHUTDOWN_GRACE", 25.0),
        )


def _hosts(value: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
    for host in hosts:
        bare = host.removeprefix("*.")
        if not bare or "*" in bare or "/" in bare:
            raise SettingsError(
                f"LLMOBSERVE_ALLOWED_HOSTS: {host!r} is not a host or *.domain pattern"
            )
    return hosts


def parse_overrides(value: str) -> dict[str, str]:
    """`host=origin,...` (LLMOBSERVE_UPSTREAM_OVERRIDES), shared with the SDK's direct mode."""
    overrides: dict[str, str] = {}
    for item in (i.strip() for i in value.split(",") if i.strip()):
        host, sep, origin = item.partition("=")
        parts = urlsplit(origin.strip())
        if not sep or not host.strip() or parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(
                f"LLMOBSERVE_UPSTREAM_OVERRIDES: {item!r} is not host=http(s)://origin"
            )
        if parts.path not in ("", "/") or parts.query:
            raise SettingsError(
                f"LLMOBSERVE_UPSTREAM_OVERRIDES: {item!r}: give an origin only, without a path"
            )
        overrides[host.strip().lower()] = f"{parts.scheme}://{parts.netloc}"
    return overrides


def _networks(value: str) -> tuple[IPNetwork, ...]:
    networks = []
    for item in (i.strip() for i in value.split(",") if i.strip()):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"LLMOBSERVE_ALLOWED_NETWORKS: {item!r} is not an IP address or CIDR network"
            ) from None
    return tuple(networks)


def _token(value: str) -> str | None:
    token = value.strip()
    if not token:
        return None
    # Compared in constant time and sent in a header: printable ASCII, long enough to guess hard.
    if len(token) < 16 or not all(33 <= ord(c) <= 126 for c in token):
        raise SettingsError(
            "LLMOBSERVE_PROXY_TOKEN must be at least 16 printable ASCII characters without spaces"
        )
    return token


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name}={raw!r} must be a positive, finite number")
    return value


def _byte_count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = _positive(env, name, float(default))
    if not value.is_integer():
        raise SettingsError(f"{name}={raw!r} is not a whole number of bytes")
    return int(value)


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (true/false)")
