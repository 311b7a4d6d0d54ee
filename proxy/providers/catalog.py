"""Which hosts belong to which provider, and the base-URL prefixes the proxy serves.

Provider ids are the OpenTelemetry `gen_ai.provider.name` values where the conventions define
one (`openai`, `anthropic`, `aws.bedrock`, ...), otherwise a lowercase name of our own.
Hosts come from ../shared/reference/provider-formats.md, section 1.
"""

from __future__ import annotations

from functools import cache

from proxy.providers import llm, services
from proxy.providers.base import Provider
from semconv import GenAiProviderNameValues

__all__ = ["PROVIDERS", "Provider", "host_matches", "provider_for_host", "provider_for_prefix"]

_CORE: tuple[Provider, ...] = (
    Provider(
        GenAiProviderNameValues.OPENAI,
        (
            "api.openai.com",
            "us.api.openai.com",
            "eu.api.openai.com",
            "au.api.openai.com",
            "in.api.openai.com",
            "jp.api.openai.com",
            "ae.api.openai.com",
        ),
        "https://api.openai.com",
        "openai",
    ),
    Provider(
        GenAiProviderNameValues.ANTHROPIC,
        ("api.anthropic.com",),
        "https://api.anthropic.com",
        "anthropic",
    ),
)

PROVIDERS: tuple[Provider, ...] = _CORE + llm.PROVIDERS + services.PROVIDERS


def host_matches(host: str, pattern: str) -> bool:
    """`pattern` is an exact host or `*.suffix` (which does not match the bare suffix)."""
    host = host.lower().rstrip(".")
    pattern = pattern.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


@cache
def provider_for_host(host: str) -> Provider | None:
    for provider in PROVIDERS:
        if any(host_matches(host, pattern) for pattern in provider.hosts):
            return provider
    return None


def provider_for_prefix(prefix: str) -> Provider | None:
    for provider in PROVIDERS:
        if provider.prefix == prefix:
            return provider
    return None
