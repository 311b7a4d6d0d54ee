"""Voyage AI: embeddings, multimodal embeddings and rerank, billed on tokens (and pixels)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import TokenUsage
from proxy.providers.endpoints import detect_endpoint
from proxy.providers.result import CallResult
from tests.proxy.providers._llm_support import HTML_ERROR_PAGE, endpoint_for, fixture, observe

VOYAGE = "voyage"


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/v1/embeddings", "embeddings"),
        ("/v1/multimodalembeddings", "embeddings"),
        ("/v1/contextualizedembeddings", "embeddings"),
        ("/v1/rerank", "rerank"),
    ],
)
def test_detect_endpoint_finds_voyage_endpoints(path: str, operation: str) -> None:
    endpoint = detect_endpoint(VOYAGE, "POST", path)

    assert endpoint is not None
    assert endpoint.operation == operation


def test_embeddings_read_total_tokens() -> None:
    result = observe(endpoint_for(VOYAGE, "/v1/embeddings"), fixture("voyage/embeddings.json"))

    assert result == CallResult(
        response_model="voyage-3.5", usage=TokenUsage(input_tokens=10, output_tokens=0)
    )


def test_multimodal_embeddings_bill_text_tokens_and_pixels() -> None:
    endpoint = endpoint_for(VOYAGE, "/v1/multimodalembeddings")

    result = observe(endpoint, fixture("voyage/multimodal_embeddings.json"))

    assert result.usage == TokenUsage(input_tokens=5, output_tokens=0)
    assert result.units == {"image_pixels": Decimal(2000000)}


def test_rerank_reads_total_tokens() -> None:
    result = observe(endpoint_for(VOYAGE, "/v1/rerank"), fixture("voyage/rerank.json"))

    assert result.usage == TokenUsage(input_tokens=26, output_tokens=0)
    assert result.response_model == "rerank-2.5"


@pytest.mark.parametrize("body", [b"", HTML_ERROR_PAGE, b'{"model": "\xff"}', b'{"usage": {}}'])
def test_bad_bodies_give_a_problem(body: bytes) -> None:
    result = observe(endpoint_for(VOYAGE, "/v1/embeddings"), body)

    assert result.usage is None
    assert result.problem


def test_error_body_has_no_code() -> None:
    result = observe(
        endpoint_for(VOYAGE, "/v1/embeddings"), b'{"detail": "Invalid API key"}', status=401
    )

    assert result.error_type is None
    assert result.usage is None
