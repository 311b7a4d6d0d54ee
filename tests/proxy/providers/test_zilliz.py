"""Zilliz Cloud / Milvus REST v2: the top-level `cost` as read or write units."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from semconv import ERROR_TYPE, LLMOBSERVE_COST_STATUS
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    observe,
    span_units,
)

ZILLIZ = "zilliz"
HOST = "in03-abc123def456.serverless.gcp-us-west1.cloud.zilliz.com"


def test_detect() -> None:
    assert detect(ZILLIZ, "POST", "/v2/vectordb/entities/search").operation == "vector_query"
    assert detect(ZILLIZ, "POST", "/v2/vectordb/entities/insert").operation == "vector_write"
    assert detect_endpoint(ZILLIZ, "POST", "/v2/vectordb/collections/list") is None


def test_search_cost_is_read_units() -> None:
    result = observe(
        detect(ZILLIZ, "POST", "/v2/vectordb/entities/search"), fixture("zilliz", "search.json")
    )

    assert result.units == {"read_units": Decimal(6)}


def test_insert_cost_is_write_units() -> None:
    result = observe(
        detect(ZILLIZ, "POST", "/v2/vectordb/entities/insert"), fixture("zilliz", "insert.json")
    )

    assert result.units == {"write_units": Decimal(284)}


def test_error_in_a_200_response() -> None:
    result = observe(
        detect(ZILLIZ, "POST", "/v2/vectordb/entities/search"), fixture("zilliz", "error.json")
    )

    assert (result.error_type, result.units) == ("1100", {})


def test_missing_cost_says_why() -> None:
    result = observe(
        detect(ZILLIZ, "POST", "/v2/vectordb/entities/query"), b'{"code": 0, "data": []}'
    )

    assert result.problem == "response has no cost"


def test_search_and_error_through_the_proxy(start_proxy) -> None:
    replies = {
        ("POST", "/v2/vectordb/entities/search"): Reply(fixture("zilliz", "search.json")),
        ("POST", "/v2/vectordb/entities/query"): Reply(fixture("zilliz", "error.json")),
    }
    with fake_upstream(replies) as (url, _):
        proxy = start_proxy(upstream_overrides={HOST: url})
        for op in ("search", "query"):
            path = f"/v2/vectordb/entities/{op}"
            httpx.post(
                f"{proxy.url}{path}",
                content=b'{"collectionName": "c"}',
                headers={"X-LLMObserve-Target-URL": f"https://{HOST}{path}"},
            )

    search, query = sorted((s.attributes for s in proxy.spans(2)), key=lambda a: ERROR_TYPE in a)
    assert_units_only_span(search)
    assert span_units(search) in (None, {"read_units": 6.0})
    assert query[ERROR_TYPE] == "1100"
    assert query[LLMOBSERVE_COST_STATUS] != "priced"
