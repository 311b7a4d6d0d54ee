"""Pinecone: read units as reported; upserts report no write units, so records are counted."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    observe,
    random_chunks,
    span_units,
)

PINECONE = "pinecone"
INDEX_HOST = "example-index-abc1234.svc.aped-4627-b74a.pinecone.io"
QUERY = fixture("pinecone", "query.json")


def test_index_hosts_belong_to_pinecone() -> None:
    for host in (INDEX_HOST, "api.pinecone.io"):
        provider = provider_for_host(host)
        assert provider is not None and provider.id == PINECONE


def test_detect() -> None:
    assert detect(PINECONE, "POST", "/query").operation == "vector_query"
    assert detect(PINECONE, "GET", "/vectors/fetch").operation == "vector_query"
    assert detect(PINECONE, "POST", "/vectors/upsert").operation == "vector_write"
    assert (
        detect(PINECONE, "POST", "/records/namespaces/example/search").operation == "vector_query"
    )
    assert (
        detect(PINECONE, "POST", "/records/namespaces/example/upsert").operation == "vector_write"
    )
    assert detect_endpoint(PINECONE, "POST", "/describe_index_stats") is None
    assert detect_endpoint(PINECONE, "GET", "/indexes") is None


def test_query_read_units() -> None:
    result = observe(detect(PINECONE, "POST", "/query"), QUERY, chunks=random_chunks(QUERY))

    assert result.units == {"read_units": Decimal(6)}


def test_records_search_read_units_snake_case() -> None:
    endpoint = detect(PINECONE, "POST", "/records/namespaces/example/search")

    assert observe(endpoint, fixture("pinecone", "search_records.json")).units == {
        "read_units": Decimal(6)
    }


def test_query_without_usage_says_why() -> None:
    result = observe(detect(PINECONE, "POST", "/query"), b'{"matches": []}')

    assert result.problem == "response has no usage.readUnits"


def test_upsert_counts_request_vectors() -> None:
    result = observe(
        detect(PINECONE, "POST", "/vectors/upsert"),
        fixture("pinecone", "upsert.json"),
        request_body=fixture("pinecone", "upsert_request.json"),
    )

    assert result.units == {"records": Decimal(3)}


def test_upsert_prefers_reported_write_units() -> None:
    result = observe(
        detect(PINECONE, "POST", "/vectors/upsert"),
        b'{"upsertedCount": 3, "usage": {"writeUnits": 9}}',
        request_body=fixture("pinecone", "upsert_request.json"),
    )

    assert result.units == {"write_units": Decimal(9)}


def test_records_upsert_counts_ndjson_lines() -> None:
    body = b'{"_id": "a", "chunk_text": "x"}\n{"_id": "b", "chunk_text": "y"}\n'

    result = observe(
        detect(PINECONE, "POST", "/records/namespaces/ns/upsert"),
        b"",
        request_body=body,
        status=201,
    )

    assert result.units == {"records": Decimal(2)}


def test_delete_counts_ids_but_not_delete_all() -> None:
    endpoint = detect(PINECONE, "POST", "/vectors/delete")

    assert observe(endpoint, b"{}", request_body=b'{"ids": ["a", "b"]}').units == {
        "records": Decimal(2)
    }
    result = observe(endpoint, b"{}", request_body=b'{"deleteAll": true}')
    assert result.problem == "delete: the number of records is not on the wire"


def test_query_through_the_proxy(start_proxy) -> None:
    with fake_upstream({("POST", "/query"): Reply(QUERY)}) as (url, _):
        proxy = start_proxy(upstream_overrides={INDEX_HOST: url})
        response = httpx.post(
            f"{proxy.url}/query",
            content=b'{"vector": [0.1, 0.2, 0.3], "topK": 2}',
            headers={
                "X-LLMObserve-Target-URL": f"https://{INDEX_HOST}/query",
                "Api-Key": "pc-test",
            },
        )

    assert response.content == QUERY
    attributes = proxy.span().attributes
    assert (attributes[GEN_AI_PROVIDER_NAME], attributes[GEN_AI_OPERATION_NAME]) == (
        PINECONE,
        "vector_query",
    )
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"read_units": 6.0})
