"""Algolia: search requests counted per query, multi-queries included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from tests.proxy.providers._services_support import detect, fixture, observe

ALGOLIA = "algolia"


@pytest.mark.parametrize(
    "host", ["latency-dsn.algolia.net", "latency.algolia.net", "latency-2.algolianet.com"]
)
def test_hosts(host: str) -> None:
    provider = provider_for_host(host)
    assert provider is not None and provider.id == ALGOLIA


def test_detect() -> None:
    assert detect(ALGOLIA, "POST", "/1/indexes/*/queries").wire_format == "algolia_queries"
    assert detect(ALGOLIA, "POST", "/1/indexes/%2A/queries").wire_format == "algolia_queries"
    assert detect(ALGOLIA, "POST", "/1/indexes/products/query").wire_format == "algolia_query"
    assert detect(ALGOLIA, "GET", "/1/indexes/products").wire_format == "algolia_query"
    assert detect(ALGOLIA, "POST", "/1/indexes/products/batch").wire_format == "algolia_batch"
    assert detect_endpoint(ALGOLIA, "GET", "/1/keys") is None


def test_multi_query_counts_each_query() -> None:
    result = observe(
        detect(ALGOLIA, "POST", "/1/indexes/*/queries"),
        fixture("algolia", "multi_queries.json"),
        request_body=fixture("algolia", "multi_queries_request.json"),
    )

    assert result.units == {"requests": Decimal(3)}


def test_single_query_is_one_request() -> None:
    result = observe(
        detect(ALGOLIA, "POST", "/1/indexes/products/query"),
        b'{"hits": []}',
        request_body=b'{"params": "query=x"}',
    )

    assert result.units == {"requests": Decimal(1)}


def test_batch_counts_records() -> None:
    result = observe(
        detect(ALGOLIA, "POST", "/1/indexes/products/batch"),
        b'{"taskID": 1, "objectIDs": ["1", "42"]}',
        request_body=fixture("algolia", "batch_request.json"),
    )

    assert result.units == {"records": Decimal(2)}
