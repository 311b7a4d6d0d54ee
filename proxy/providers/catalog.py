"""Which hosts belong to which provider, and the base-URL prefixes the proxy serves.

Provider ids are the OpenTelemetry `gen_ai.provider.name` values where the conventions define
one (`openai`, `anthropic`, `aws.bedrock`, ...), otherwise a lowercase name of our own.
Hosts come from ../shared/reference/provider-formats.md, section 1. Providers whose hosts carry
a region (AWS, Vertex AI) list one template per host form, e.g.
`bedrock-runtime.{region}.amazonaws.com` (see `proxy.providers.base.host_matches`), so a region
opened after this list was written is still recognised.
"""

from __future__ import annotations

from functools import lru_cache

from proxy.providers import llm, services
from proxy.providers.base import HostSet, Provider, host_matches, normalise_host
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


_HOST_SETS: tuple[tuple[Provider, HostSet], ...] = tuple(
    (provider, HostSet.of(provider.hosts)) for provider in PROVIDERS
)


# Bounded: the host comes from the client, and an unbounded cache would let a client grow the
# proxy's memory one made-up host name at a time.
@lru_cache(maxsize=4096)
def provider_for_host(host: str) -> Provider | None:
    """The first provider (in `PROVIDERS` order) one of whose host patterns matches `host`."""
    host = normalise_host(host)
    return next((provider for provider, hosts in _HOST_SETS if hosts.matches(host)), None)


def provider_for_prefix(prefix: str) -> Provider | None:
    for provider in PROVIDERS:
        if provider.prefix == prefix:
            return provider
    return None
