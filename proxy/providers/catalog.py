"""Which hosts belong to which provider, and the base-URL prefixes the proxy serves.

Provider ids are the OpenTelemetry `gen_ai.provider.name` values where the conventions define
one (`openai`, `anthropic`, `aws.bedrock`, ...), otherwise a lowercase name of our own.
Hosts come from ../shared/reference/provider-formats.md, section 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from semconv import GenAiProviderNameValues


@dataclass(frozen=True)
class Provider:
    """A provider the proxy knows: its hosts and the prefix that routes to it by base URL."""

    id: str
    hosts: tuple[str, ...]
    """Exact host names, or `*.suffix` patterns matching any subdomain."""
    base_url: str
    """Where `/{prefix}/...` is sent when a client uses the proxy as its base URL."""
    prefix: str
    """First path segment for base-URL routing, e.g. `openai` for `/openai/v1/...`."""


PROVIDERS: tuple[Provider, ...] = (
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
    # Known and allowed, not metered yet (see docs/providers.md): calls are forwarded and
    # traced, and their spans say `llmobserve.cost.status=not_metered`.
    Provider(
        "gcp.gemini",
        ("generativelanguage.googleapis.com",),
        "https://generativelanguage.googleapis.com",
        "gemini",
    ),
    Provider("cohere", ("api.cohere.com", "api.cohere.ai"), "https://api.cohere.com", "cohere"),
    Provider(
        "mistral_ai",
        ("api.mistral.ai", "codestral.mistral.ai"),
        "https://api.mistral.ai",
        "mistral",
    ),
    Provider("groq", ("api.groq.com",), "https://api.groq.com", "groq"),
    Provider(
        "together", ("api.together.xyz", "api.together.ai"), "https://api.together.xyz", "together"
    ),
    Provider("deepseek", ("api.deepseek.com",), "https://api.deepseek.com", "deepseek"),
    Provider("x_ai", ("api.x.ai",), "https://api.x.ai", "xai"),
    Provider("perplexity", ("api.perplexity.ai",), "https://api.perplexity.ai", "perplexity"),
    Provider("openrouter", ("openrouter.ai",), "https://openrouter.ai", "openrouter"),
    Provider("fireworks", ("api.fireworks.ai",), "https://api.fireworks.ai", "fireworks"),
    Provider("cerebras", ("api.cerebras.ai",), "https://api.cerebras.ai", "cerebras"),
    Provider("voyage", ("api.voyageai.com",), "https://api.voyageai.com", "voyage"),
    Provider("elevenlabs", ("api.elevenlabs.io",), "https://api.elevenlabs.io", "elevenlabs"),
)


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
