"""Cohere v2: chat (billed units, not raw tokens), streams, embed, rerank."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pricing import TokenUsage
from proxy.providers.base import Endpoint
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.result import CallResult
from tests.proxy.providers._llm_support import (
    HTML_ERROR_PAGE,
    SSE,
    endpoint_for,
    facts_for,
    fixture,
    observe,
)

COHERE = "cohere"
CHAT = endpoint_for(COHERE, "/v2/chat")
EMBED = endpoint_for(COHERE, "/v2/embed")
RERANK = endpoint_for(COHERE, "/v2/rerank")
STREAM = fixture("cohere/chat_stream.txt")


@pytest.mark.parametrize(
    ("path", "operation", "wire_format"),
    [
        ("/v2/chat", "chat", "cohere_chat"),
        ("/v2/embed", "embeddings", "cohere_embed"),
        ("/v2/rerank", "rerank", "cohere_rerank"),
        ("/compatibility/v1/chat/completions", "chat", "openai_compatible_chat"),
        ("/compatibility/v1/embeddings", "embeddings", "openai_embeddings"),
    ],
)
def test_detect_endpoint_finds_cohere_endpoints(
    path: str, operation: str, wire_format: str
) -> None:
    endpoint = detect_endpoint(COHERE, "POST", path)

    assert endpoint is not None
    assert (endpoint.operation, endpoint.wire_format) == (operation, wire_format)


@pytest.mark.parametrize("path", ["/v1/chat", "/v2/tokenize", "/v1/classify", "/v2/models"])
def test_detect_endpoint_leaves_other_cohere_paths_unmetered(path: str) -> None:
    assert detect_endpoint(COHERE, "POST", path) is None


def test_chat_json_bills_billed_units_not_raw_tokens() -> None:
    request = facts_for(CHAT, b'{"model": "command-a-03-2025", "messages": []}')

    result = observe(CHAT, fixture("cohere/chat.json"), request=request)

    assert request.model == "command-a-03-2025"
    assert result == CallResult(
        response_id="c14c80c3-18eb-4519-9460-6c92edd8cfb4",
        usage=TokenUsage(input_tokens=5, output_tokens=418),
        finish_reasons=("COMPLETE",),
    )


def test_chat_json_falls_back_to_raw_tokens_without_billed_units() -> None:
    document = json.loads(fixture("cohere/chat.json"))
    del document["usage"]["billed_units"]

    result = observe(CHAT, json.dumps(document).encode())

    assert result.usage == TokenUsage(input_tokens=71, output_tokens=420)


def test_chat_json_accepts_integral_float_counts() -> None:
    document = json.loads(fixture("cohere/chat.json"))
    document["usage"]["billed_units"] = {"input_tokens": 5.0, "output_tokens": 418.0}

    result = observe(CHAT, json.dumps(document).encode())

    assert result.usage == TokenUsage(input_tokens=5, output_tokens=418)


@pytest.mark.parametrize("seed", range(5))
def test_chat_stream_reads_usage_of_message_end(seed: int) -> None:
    result = observe(CHAT, STREAM, content_type=SSE, seed=seed)

    assert result.usage == TokenUsage(input_tokens=3, output_tokens=9)
    assert result.response_id == "29f14a5a-11de-4cae-9800-25e4747408ea"
    assert result.finish_reasons == ("COMPLETE",)
    assert result.problem is None


def test_chat_stream_reads_event_type_from_data_when_event_names_are_absent() -> None:
    unnamed = b"".join(
        line + b"\n" for line in STREAM.split(b"\n") if not line.startswith(b"event:")
    )

    result = observe(CHAT, unnamed, content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=3, output_tokens=9)


def test_chat_stream_cut_before_message_end_says_truncated() -> None:
    cut = STREAM.index(b"event: message-end")

    result = observe(CHAT, STREAM[:cut], content_type=SSE)

    assert result.usage is None
    assert result.problem == "stream ended before message-end (truncated)"


def test_chat_stream_ignores_unknown_event_types() -> None:
    extra = b'event: debug\ndata: {"type": "debug", "prompt": "..."}\n\n'

    result = observe(CHAT, extra + STREAM, content_type=SSE)

    assert result.usage == TokenUsage(input_tokens=3, output_tokens=9)


def test_embed_reads_billed_input_tokens() -> None:
    result = observe(EMBED, fixture("cohere/embed.json"))

    assert result == CallResult(usage=TokenUsage(input_tokens=2, output_tokens=0))


def test_embed_with_images_counts_images() -> None:
    document = json.loads(fixture("cohere/embed.json"))
    document["meta"]["billed_units"] = {"images": 2}

    result = observe(EMBED, json.dumps(document).encode())

    assert result.usage is None
    assert result.units == {"images": Decimal(2)}


def test_embed_image_tokens_are_a_unit_not_free_text_tokens() -> None:
    # Embed v4 bills image inputs as `image_tokens`: reading only `input_tokens` priced
    # the call at zero.
    result = observe(EMBED, fixture("cohere/embed_image.json"))

    assert result.usage is None
    assert result.units == {"image_tokens": Decimal(1610)}


def test_rerank_reads_search_units() -> None:
    result = observe(RERANK, fixture("cohere/rerank.json"))

    assert result == CallResult(units={"search_units": Decimal(1)})


@pytest.mark.parametrize("endpoint", [CHAT, EMBED, RERANK])
@pytest.mark.parametrize("body", [b"", HTML_ERROR_PAGE, b'{"id": "\xff"}', b"{}"])
def test_bad_bodies_give_a_problem(endpoint: Endpoint, body: bytes) -> None:
    result = observe(endpoint, body)

    assert not result.metered
    assert result.problem
