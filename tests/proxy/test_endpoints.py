"""Which (provider, method, path) calls are metered, and how."""

from __future__ import annotations

import pytest

from proxy.providers.endpoints import ANTHROPIC_MESSAGES, OPENAI_CHAT, Endpoint, detect_endpoint
from semconv import GenAiOperationNameValues, GenAiProviderNameValues

OPENAI = GenAiProviderNameValues.OPENAI
ANTHROPIC = GenAiProviderNameValues.ANTHROPIC


def test_detect_endpoint_finds_openai_chat_completions() -> None:
    assert detect_endpoint(OPENAI, "POST", "/v1/chat/completions") == Endpoint(
        GenAiOperationNameValues.CHAT, OPENAI_CHAT, stream_usage_opt_in=True
    )


def test_detect_endpoint_finds_anthropic_messages() -> None:
    endpoint = detect_endpoint(ANTHROPIC, "POST", "/v1/messages")

    assert endpoint == Endpoint(GenAiOperationNameValues.CHAT, ANTHROPIC_MESSAGES)
    assert endpoint is not None
    assert not endpoint.stream_usage_opt_in


@pytest.mark.parametrize("path", ["/v1/chat/completions/", "/v1/chat/completions//"])
def test_detect_endpoint_ignores_trailing_slash(path: str) -> None:
    assert detect_endpoint(OPENAI, "POST", path) is not None


def test_detect_endpoint_accepts_lower_case_method() -> None:
    assert detect_endpoint(ANTHROPIC, "post", "/v1/messages") is not None


@pytest.mark.parametrize(
    ("provider", "method", "path"),
    [
        (OPENAI, "GET", "/v1/chat/completions"),
        (OPENAI, "POST", "/v1/messages"),
        (OPENAI, "POST", "/chat/completions"),
        (OPENAI, "POST", "/V1/chat/completions"),
        (ANTHROPIC, "POST", "/v1/chat/completions"),
        (ANTHROPIC, "POST", "/v1/messages/count_tokens"),
        (ANTHROPIC, "POST", "/v1/messages/batches"),
        ("groq", "POST", "/v1/chat/completions"),
        (OPENAI, "POST", "/"),
        (OPENAI, "POST", ""),
    ],
)
def test_detect_endpoint_is_none_when_call_is_not_metered(
    provider: str, method: str, path: str
) -> None:
    assert detect_endpoint(provider, method, path) is None
