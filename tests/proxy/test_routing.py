"""Where a proxied request goes: target header or base-URL prefix, allow-list, overrides."""

from __future__ import annotations

import pytest

from proxy.routing import RoutingError, Target, resolve
from proxy.settings import Settings
from semconv import GenAiProviderNameValues, LlmobserveProxyRouteValues

DEFAULT = Settings()


def _resolve(
    raw_path: str = "/",
    query: str = "",
    target_header: str | None = None,
    settings: Settings = DEFAULT,
) -> Target:
    return resolve(raw_path, query, target_header, settings)


def _refused(
    raw_path: str = "/",
    target_header: str | None = None,
    settings: Settings = DEFAULT,
) -> RoutingError:
    with pytest.raises(RoutingError) as caught:
        _resolve(raw_path, "", target_header, settings)
    return caught.value


def test_resolve_routes_openai_prefix_to_openai() -> None:
    target = _resolve("/openai/v1/chat/completions")

    assert target.connect_url == "https://api.openai.com:443/v1/chat/completions"
    assert (target.scheme, target.host, target.port) == ("https", "api.openai.com", 443)
    assert target.path == "/v1/chat/completions"
    assert target.host_header == "api.openai.com"
    assert target.provider is not None
    assert target.provider.id == GenAiProviderNameValues.OPENAI
    assert target.route == LlmobserveProxyRouteValues.BASE_URL


def test_resolve_routes_anthropic_prefix_to_anthropic() -> None:
    target = _resolve("/anthropic/v1/messages")

    assert target.connect_url == "https://api.anthropic.com:443/v1/messages"
    assert target.host_header == "api.anthropic.com"
    assert target.provider is not None
    assert target.provider.id == GenAiProviderNameValues.ANTHROPIC


def test_resolve_routes_bare_prefix_to_provider_root() -> None:
    assert _resolve("/openai").path == "/"
    assert _resolve("/openai/").path == "/"


def test_resolve_keeps_query_string_when_routing_by_prefix() -> None:
    target = _resolve("/openai/v1/models", query="limit=5&after=a%2Fb")

    assert target.query == "limit=5&after=a%2Fb"
    assert target.connect_url == "https://api.openai.com:443/v1/models?limit=5&after=a%2Fb"


def test_resolve_keeps_percent_encoded_path_byte_exact_when_routing_by_prefix() -> None:
    target = _resolve("/openai/v1/models/ft%3Agpt-4o-mini%3Aacme%3A%3Aabc%2Fdef")

    assert target.path == "/v1/models/ft%3Agpt-4o-mini%3Aacme%3A%3Aabc%2Fdef"
    assert target.connect_url.endswith("/v1/models/ft%3Agpt-4o-mini%3Aacme%3A%3Aabc%2Fdef")


@pytest.mark.parametrize("raw_path", ["/unknown/v1/chat/completions", "/", "/v1/chat/completions"])
def test_resolve_refuses_unknown_prefix_with_404(raw_path: str) -> None:
    error = _refused(raw_path)

    assert error.status == 404
    assert "X-LLMObserve-Target-URL" in error.message


def test_resolve_refuses_prefix_with_different_case_with_404() -> None:
    assert _refused("/OpenAI/v1/chat/completions").status == 404


def test_resolve_routes_by_target_header() -> None:
    target = _resolve(
        "/ignored/path",
        query="ignored=1",
        target_header="https://api.openai.com/v1/chat/completions",
    )

    assert target.connect_url == "https://api.openai.com:443/v1/chat/completions"
    assert target.route == LlmobserveProxyRouteValues.TARGET_HEADER
    assert target.provider is not None
    assert target.provider.id == GenAiProviderNameValues.OPENAI


def test_resolve_prefers_target_header_over_prefix() -> None:
    target = _resolve(
        "/openai/v1/chat/completions", target_header="https://api.anthropic.com/v1/messages"
    )

    assert target.host == "api.anthropic.com"
    assert target.path == "/v1/messages"


def test_resolve_keeps_target_header_query_and_encoded_path_byte_exact() -> None:
    target = _resolve(
        target_header="https://api.openai.com/v1/models/ft%3Agpt-4o-mini%3Aacme?a=%2F&b=c%3A"
    )

    assert target.path == "/v1/models/ft%3Agpt-4o-mini%3Aacme"
    assert target.query == "a=%2F&b=c%3A"
    assert target.connect_url == (
        "https://api.openai.com:443/v1/models/ft%3Agpt-4o-mini%3Aacme?a=%2F&b=c%3A"
    )


def test_resolve_lower_cases_target_header_host_and_strips_whitespace() -> None:
    target = _resolve(target_header="  https://API.OpenAI.com/v1/chat/completions  ")

    assert target.host == "api.openai.com"
    assert target.provider is not None


def test_resolve_uses_root_path_when_target_header_has_none() -> None:
    assert _resolve(target_header="https://api.openai.com").path == "/"


def test_resolve_keeps_explicit_port_in_host_header() -> None:
    target = _resolve(target_header="https://api.openai.com:8443/v1/models")

    assert target.port == 8443
    assert target.host_header == "api.openai.com:8443"
    assert target.connect_url == "https://api.openai.com:8443/v1/models"


def test_resolve_omits_default_port_from_host_header() -> None:
    settings = Settings(allowed_hosts=("llm.internal",))

    target = _resolve(target_header="http://llm.internal:80/v1/x", settings=settings)

    assert (target.port, target.host_header) == (80, "llm.internal")


@pytest.mark.parametrize(
    "value",
    [
        "api.openai.com/v1/chat/completions",
        "/v1/chat/completions",
        "ftp://api.openai.com/v1",
        "https:///v1/chat/completions",
        "",
        "https://api.openai.com:99999/v1",
        "https://api.openai.com:port/v1",
    ],
)
def test_resolve_refuses_bad_target_header_with_400(value: str) -> None:
    assert _refused(target_header=value).status == 400


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/v1/chat/completions",
        "https://api.openai.com.evil.com/v1/chat/completions",
        "https://openai.com/v1/chat/completions",
        "http://127.0.0.1:8080/",
    ],
)
def test_resolve_refuses_unknown_host_with_403(value: str) -> None:
    error = _refused(target_header=value)

    assert error.status == 403
    assert "LLMOBSERVE_ALLOWED_HOSTS" in error.message


def test_resolve_allows_exact_host_from_allowed_hosts() -> None:
    settings = Settings(allowed_hosts=("llm.internal",))

    target = _resolve(
        target_header="http://llm.internal:8080/v1/chat/completions", settings=settings
    )

    assert target.provider is None
    assert target.connect_url == "http://llm.internal:8080/v1/chat/completions"


def test_resolve_allows_subdomain_of_wildcard_allowed_host() -> None:
    settings = Settings(allowed_hosts=("*.llm.example.com",))

    target = _resolve(
        target_header="https://acme.llm.example.com/openai/deployments/x/chat/completions",
        settings=settings,
    )

    assert target.host == "acme.llm.example.com"
    assert target.provider is None


def test_resolve_refuses_bare_suffix_of_wildcard_allowed_host() -> None:
    settings = Settings(allowed_hosts=("*.llm.example.com",))

    assert _refused(target_header="https://llm.example.com/x", settings=settings).status == 403


def test_resolve_override_changes_connect_url_only() -> None:
    settings = Settings(upstream_overrides={"api.openai.com": "http://127.0.0.1:8081"})

    target = _resolve("/openai/v1/chat/completions", query="x=1", settings=settings)

    assert target.connect_origin == "http://127.0.0.1:8081"
    assert target.connect_url == "http://127.0.0.1:8081/v1/chat/completions?x=1"
    assert (target.scheme, target.host, target.port) == ("https", "api.openai.com", 443)
    assert target.host_header == "api.openai.com"
    assert target.provider is not None
    assert target.provider.id == GenAiProviderNameValues.OPENAI


def test_resolve_override_applies_to_target_header_routes() -> None:
    settings = Settings(upstream_overrides={"api.anthropic.com": "http://sim:9999"})

    target = _resolve(target_header="https://API.anthropic.com/v1/messages", settings=settings)

    assert target.connect_url == "http://sim:9999/v1/messages"
    assert target.host_header == "api.anthropic.com"


def test_resolve_override_does_not_allow_an_unknown_host() -> None:
    settings = Settings(upstream_overrides={"example.com": "http://127.0.0.1:1"})

    assert _refused(target_header="https://example.com/", settings=settings).status == 403


def test_resolve_override_leaves_other_hosts_alone() -> None:
    settings = Settings(upstream_overrides={"api.openai.com": "http://127.0.0.1:8081"})

    target = _resolve("/anthropic/v1/messages", settings=settings)

    assert target.connect_url == "https://api.anthropic.com:443/v1/messages"


def test_resolve_recognises_provider_host_with_trailing_dot() -> None:
    target = _resolve(target_header="https://api.openai.com./v1/chat/completions")

    assert target.provider is not None
    assert target.provider.id == GenAiProviderNameValues.OPENAI
