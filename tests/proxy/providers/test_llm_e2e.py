"""End to end: a real proxy, a fake upstream replaying the fixtures, one span per call.

Cost amounts are not asserted here (the price data is maintained apart); the status is
`priced` when the bundled data knows the model, `unknown_model` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

import httpx
import pytest

from proxy.protocol import TARGET_URL_HEADER
from proxy.providers.llm import replicate
from semconv import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_STATUS,
    SERVER_ADDRESS,
)
from tests.proxy.providers._llm_support import (
    SSE,
    Replay,
    Reply,
    expected_cost_status,
    fixture,
    serve_replay,
)

KEY = "test-key-5ecret-llm"


@pytest.fixture
def upstream() -> Iterator[Replay]:
    yield from serve_replay()


HEADERS = {"Authorization": f"Bearer {KEY}"}


def _tokens(attrs: Mapping[str, object]) -> tuple[object, object]:
    return attrs.get(GEN_AI_USAGE_INPUT_TOKENS), attrs.get(GEN_AI_USAGE_OUTPUT_TOKENS)


def test_openai_responses_json_and_stream(start_proxy, upstream: Replay) -> None:
    upstream.add("POST", "/v1/responses", Reply(fixture("openai/responses.json")))
    proxy = start_proxy(upstream_overrides={"api.openai.com": upstream.url})
    body = {
        "model": "gpt-5-mini",
        "input": "Tallest building in Europe?",
        "tools": [{"type": "web_search"}],
    }

    response = httpx.post(f"{proxy.url}/openai/v1/responses", json=body, headers=HEADERS)
    upstream.add("POST", "/v1/responses", Reply(fixture("openai/responses_stream.txt"), SSE))
    streamed = httpx.post(
        f"{proxy.url}/openai/v1/responses",
        json={"model": "gpt-4.1-mini", "input": "Hi", "stream": True},
        headers=HEADERS,
    )

    assert response.content == fixture("openai/responses.json")
    assert streamed.content == fixture("openai/responses_stream.txt")
    first, second = proxy.spans(2)
    attrs = first.attributes
    assert first.name == "chat gpt-5-mini"
    assert attrs[GEN_AI_PROVIDER_NAME] == "openai"
    assert _tokens(attrs) == (3250, 512)
    assert attrs[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert attrs[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 384
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status("openai", "gpt-5-mini-2025-08-07")
    attrs = second.attributes
    assert attrs[GEN_AI_REQUEST_STREAM] is True
    assert _tokens(attrs) == (19, 10)
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status(
        "openai", "gpt-4.1-mini-2025-04-14"
    )


def test_azure_deployment_stream_is_priced_on_the_response_model(
    start_proxy, upstream: Replay
) -> None:
    path = "/openai/deployments/prod-chat/chat/completions"
    upstream.add("POST", path, Reply(fixture("azure_openai/chat_completion_stream.txt"), SSE))
    host = "acme.openai.azure.com"
    proxy = start_proxy(upstream_overrides={host: upstream.url})

    response = httpx.post(
        f"{proxy.url}{path}?api-version=2024-10-21",
        headers={TARGET_URL_HEADER: f"https://{host}{path}?api-version=2024-10-21", "api-key": KEY},
        json={
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )

    assert response.content == fixture("azure_openai/chat_completion_stream.txt")
    assert upstream.received[0]["query"] == "api-version=2024-10-21"
    span = proxy.span()
    attrs = span.attributes
    assert span.name == "chat prod-chat"
    assert attrs[GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert attrs[GEN_AI_REQUEST_MODEL] == "prod-chat"
    assert attrs[GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[SERVER_ADDRESS] == host
    assert _tokens(attrs) == (9, 3)
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status(
        "azure.ai.openai", "gpt-4o-mini-2024-07-18"
    )


def test_gemini_json_array_stream_and_the_api_key_never_reaches_the_span(
    start_proxy, upstream: Replay
) -> None:
    path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    upstream.add("POST", path, Reply(fixture("gemini/stream_generate_content_array.json")))
    proxy = start_proxy(upstream_overrides={"generativelanguage.googleapis.com": upstream.url})

    response = httpx.post(
        f"{proxy.url}/gemini{path}?key={KEY}",
        json={"contents": [{"parts": [{"text": "Tell me a story"}]}]},
    )

    assert response.content == fixture("gemini/stream_generate_content_array.json")
    span = proxy.span()
    attrs = span.attributes
    assert span.name == "generate_content gemini-2.0-flash"
    assert attrs[GEN_AI_OPERATION_NAME] == "generate_content"
    assert attrs[GEN_AI_REQUEST_STREAM] is True
    assert _tokens(attrs) == (8, 31)
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status("gcp.gemini", "gemini-2.0-flash")
    assert "5ecret" not in json.dumps(json.loads(span.to_json()))


def test_cohere_chat_stream(start_proxy, upstream: Replay) -> None:
    upstream.add("POST", "/v2/chat", Reply(fixture("cohere/chat_stream.txt"), SSE))
    proxy = start_proxy(upstream_overrides={"api.cohere.com": upstream.url})

    httpx.post(
        f"{proxy.url}/cohere/v2/chat",
        json={"model": "command-a-03-2025", "messages": [], "stream": True},
        headers=HEADERS,
    )

    attrs = proxy.span().attributes
    assert attrs[GEN_AI_PROVIDER_NAME] == "cohere"
    assert _tokens(attrs) == (3, 9)
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status("cohere", "command-a-03-2025")


COMPATIBLE_STREAMS = [
    # prefix, host, path, stream fixture, (input, output) tokens, model
    (
        "groq",
        "api.groq.com",
        "/openai/v1/chat/completions",
        "groq",
        (36, 2),
        "llama-3.1-8b-instant",
    ),
    ("xai", "api.x.ai", "/v1/chat/completions", "xai", (38, 7), "grok-3"),
    (
        "mistral",
        "api.mistral.ai",
        "/v1/chat/completions",
        "mistral",
        (10, 3),
        "mistral-small-latest",
    ),
]


@pytest.mark.parametrize("case", COMPATIBLE_STREAMS, ids=[c[0] for c in COMPATIBLE_STREAMS])
def test_openai_compatible_streams(
    start_proxy, upstream: Replay, case: tuple[str, str, str, str, tuple[int, int], str]
) -> None:
    prefix, host, path, provider_dir, tokens, model = case
    stream = fixture(f"{provider_dir}/chat_completion_stream.txt")
    upstream.add("POST", path, Reply(stream, SSE))
    proxy = start_proxy(upstream_overrides={host: upstream.url})

    response = httpx.post(
        f"{proxy.url}/{prefix}{path}",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": True},
        headers=HEADERS,
    )

    assert response.content == stream
    assert "stream_options" not in json.loads(upstream.received[0]["body"])
    attrs = proxy.span().attributes
    assert _tokens(attrs) == tokens
    provider = attrs[GEN_AI_PROVIDER_NAME]
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status(str(provider), model)


def test_deepseek_stream_is_asked_for_usage(start_proxy, upstream: Replay) -> None:
    upstream.add(
        "POST", "/chat/completions", Reply(fixture("deepseek/chat_completion_stream.txt"), SSE)
    )
    proxy = start_proxy(upstream_overrides={"api.deepseek.com": upstream.url})

    httpx.post(
        f"{proxy.url}/deepseek/chat/completions",
        json={"model": "deepseek-reasoner", "messages": [], "stream": True},
        headers=HEADERS,
    )

    assert json.loads(upstream.received[0]["body"])["stream_options"] == {"include_usage": True}
    attrs = proxy.span().attributes
    assert _tokens(attrs) == (12, 48)
    assert attrs[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 41


def test_replicate_polls_are_metered_once(start_proxy, upstream: Replay) -> None:
    replicate.LEDGER.forget()
    create = "/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    poll = "/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu"
    upstream.add("POST", create, Reply(fixture("replicate/prediction_starting.json"), status=201))
    upstream.add("GET", poll, Reply(fixture("replicate/prediction_succeeded.json")))
    proxy = start_proxy(upstream_overrides={"api.replicate.com": upstream.url})

    httpx.post(
        f"{proxy.url}/replicate{create}", json={"input": {"prompt": "llamas"}}, headers=HEADERS
    )
    for _ in range(2):
        httpx.get(f"{proxy.url}/replicate{poll}", headers=HEADERS)

    created, finished, repeated = proxy.spans(3)
    assert created.attributes[GEN_AI_REQUEST_MODEL] == "meta/meta-llama-3-8b-instruct"
    assert created.attributes[LLMOBSERVE_COST_STATUS] == "usage_unavailable"
    assert (
        "metered on the response that shows it finished"
        in created.attributes[LLMOBSERVE_COST_REASON]
    )
    assert _tokens(finished.attributes) == (17, 23)
    assert finished.attributes[LLMOBSERVE_COST_STATUS] == expected_cost_status(
        "replicate", "meta/meta-llama-3-8b-instruct"
    )
    assert GEN_AI_USAGE_INPUT_TOKENS not in repeated.attributes
    assert "earlier response" in repeated.attributes[LLMOBSERVE_COST_REASON]


def test_voyage_embeddings(start_proxy, upstream: Replay) -> None:
    upstream.add("POST", "/v1/embeddings", Reply(fixture("voyage/embeddings.json")))
    proxy = start_proxy(upstream_overrides={"api.voyageai.com": upstream.url})

    httpx.post(
        f"{proxy.url}/voyage/v1/embeddings",
        json={"model": "voyage-3.5", "input": ["a", "b"]},
        headers=HEADERS,
    )

    attrs = proxy.span().attributes
    assert attrs[GEN_AI_OPERATION_NAME] == "embeddings"
    assert _tokens(attrs) == (10, 0)
    assert attrs[LLMOBSERVE_COST_STATUS] == expected_cost_status("voyage", "voyage-3.5")


def test_self_hosted_server_on_a_declared_host_is_metered(start_proxy, upstream: Replay) -> None:
    upstream.add("POST", "/v1/chat/completions", Reply(fixture("huggingface/chat_completion.json")))
    host = "vllm.internal.example"
    proxy = start_proxy(allowed_hosts=(host,), upstream_overrides={host: upstream.url})

    httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={TARGET_URL_HEADER: f"http://{host}:8000/v1/chat/completions"},
        json={"model": "meta-llama/Llama-3.1-8B-Instruct", "messages": []},
    )

    attrs = proxy.span().attributes
    assert _tokens(attrs) == (45, 8)
    assert attrs[GEN_AI_PROVIDER_NAME] == "openai_compatible"
