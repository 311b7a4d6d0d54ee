"""Proxy configuration, read once from `LLMOBSERVE_*` environment variables.

A malformed value stops the proxy at start-up with the variable named; it never surfaces as a
failed request later.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit


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
    max_parse_bytes: int = 16 * 1024 * 1024
    """Response bytes parsed for usage; larger responses stream through unparsed."""
    inject_stream_usage: bool = True
    """Ask OpenAI-style streams for usage when the client did not (and hide it again)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            allowed_hosts=_hosts(env.get("LLMOBSERVE_ALLOWED_HOSTS", "")),
            upstream_overrides=_overrides(env.get("LLMOBSERVE_UPSTREAM_OVERRIDES", "")),
            upstream_timeout=_positive(env, "LLMOBSERVE_UPSTREAM_TIMEOUT", 600.0),
            connect_timeout=_positive(env, "LLMOBSERVE_CONNECT_TIMEOUT", 10.0),
            max_request_bytes=_byte_count(env, "LLMOBSERVE_MAX_REQUEST_BYTES", 32 * 2**20),
            max_parse_bytes=_byte_count(env, "LLMOBSERVE_MAX_PARSE_BYTES", 16 * 2**20),
            inject_stream_usage=_flag(env, "LLMOBSERVE_INJECT_STREAM_USAGE", default=True),
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


def _overrides(value: str) -> dict[str, str]:
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
