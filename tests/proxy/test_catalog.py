"""The provider catalog: host patterns, host lookup and base-URL prefixes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from proxy.providers.catalog import (
    PROVIDERS,
    host_matches,
    provider_for_host,
    provider_for_prefix,
)
from semconv import GenAiProviderNameValues


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("api.openai.com", "api.openai.com"),
        ("API.OpenAI.com", "api.openai.com"),
        ("api.openai.com", "API.OPENAI.COM"),
        ("api.openai.com.", "api.openai.com"),
        ("x.openai.azure.com", "*.openai.azure.com"),
        ("a.b.openai.azure.com", "*.openai.azure.com"),
        ("X.OpenAI.Azure.com.", "*.openai.azure.com"),
    ],
)
def test_host_matches_is_true(host: str, pattern: str) -> None:
    assert host_matches(host, pattern)


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("openai.azure.com", "*.openai.azure.com"),
        ("openai.azure.com.", "*.openai.azure.com"),
        ("evilopenai.azure.com", "*.openai.azure.com"),
        ("openai.azure.com.evil.com", "*.openai.azure.com"),
        ("api.openai.com.evil.com", "api.openai.com"),
        ("xapi.openai.com", "api.openai.com"),
        ("api.openai.co", "api.openai.com"),
        (".openai.azure.com", "*.openai.azure.com"),
        ("", "api.openai.com"),
    ],
)
def test_host_matches_is_false(host: str, pattern: str) -> None:
    assert not host_matches(host, pattern)


@pytest.mark.parametrize(
    ("host", "provider_id"),
    [
        ("api.openai.com", GenAiProviderNameValues.OPENAI),
        ("eu.api.openai.com", GenAiProviderNameValues.OPENAI),
        ("API.OPENAI.COM", GenAiProviderNameValues.OPENAI),
        ("api.openai.com.", GenAiProviderNameValues.OPENAI),
        ("api.anthropic.com", GenAiProviderNameValues.ANTHROPIC),
        ("api.cohere.ai", "cohere"),
        ("codestral.mistral.ai", "mistral_ai"),
        ("openrouter.ai", "openrouter"),
    ],
)
def test_provider_for_host_finds_provider(host: str, provider_id: str) -> None:
    provider = provider_for_host(host)

    assert provider is not None
    assert provider.id == provider_id


@pytest.mark.parametrize(
    "host", ["openai.com", "anthropic.com", "api.openai.com.evil.com", "example.com", "localhost"]
)
def test_provider_for_host_is_none_when_host_is_unknown(host: str) -> None:
    assert provider_for_host(host) is None


def test_provider_for_prefix_finds_provider() -> None:
    openai = provider_for_prefix("openai")
    anthropic = provider_for_prefix("anthropic")

    assert openai is not None
    assert anthropic is not None
    assert (openai.id, openai.base_url) == (
        GenAiProviderNameValues.OPENAI,
        "https://api.openai.com",
    )
    assert (anthropic.id, anthropic.base_url) == (
        GenAiProviderNameValues.ANTHROPIC,
        "https://api.anthropic.com",
    )


@pytest.mark.parametrize("prefix", ["OpenAI", "", "v1", "api.openai.com", "unknown"])
def test_provider_for_prefix_is_none_when_prefix_is_unknown(prefix: str) -> None:
    assert provider_for_prefix(prefix) is None


def test_providers_have_unique_ids_prefixes_and_hosts() -> None:
    ids = [p.id for p in PROVIDERS]
    prefixes = [p.prefix for p in PROVIDERS]
    hosts = [h for p in PROVIDERS for h in p.hosts]

    assert len(set(ids)) == len(ids)
    assert len(set(prefixes)) == len(prefixes)
    assert len(set(hosts)) == len(hosts)


def test_providers_base_url_host_belongs_to_the_provider() -> None:
    for provider in PROVIDERS:
        parts = urlsplit(provider.base_url)
        assert parts.scheme == "https", provider.id
        assert parts.hostname is not None
        assert provider_for_host(parts.hostname) == provider, provider.id


def test_providers_ids_and_hosts_are_lower_case() -> None:
    for provider in PROVIDERS:
        assert provider.id == provider.id.lower()
        assert provider.prefix == provider.prefix.lower()
        assert all(host == host.lower() for host in provider.hosts)
