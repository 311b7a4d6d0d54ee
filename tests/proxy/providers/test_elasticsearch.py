"""Elasticsearch (Elastic Cloud): one request per call, by API."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from proxy.providers.catalog import provider_for_host
from semconv import GEN_AI_OPERATION_NAME, GEN_AI_PROVIDER_NAME
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    observe,
    span_units,
)

ES = "elasticsearch"
HOST = "my-deployment.es.us-central1.gcp.cloud.es.io"


@pytest.mark.parametrize(
    "host", [HOST, "abc123.us-east-1.aws.found.io", "my-project.es.eu-west-1.aws.elastic.cloud"]
)
def test_hosts(host: str) -> None:
    provider = provider_for_host(host)
    assert provider is not None and provider.id == ES


@pytest.mark.parametrize(
    ("method", "path", "name", "operation"),
    [
        ("POST", "/products/_search", "_search", "search"),
        ("POST", "/_msearch", "_msearch", "search"),
        ("POST", "/_bulk", "_bulk", "database_request"),
        ("PUT", "/products/_doc/1", "_doc", "database_request"),
        ("GET", "/", "other", "database_request"),
    ],
)
def test_detect_names_the_api(method: str, path: str, name: str, operation: str) -> None:
    endpoint = detect(ES, method, path)

    assert (endpoint.wire_format, endpoint.operation) == (f"elasticsearch.{name}", operation)


def test_search_is_one_request() -> None:
    result = observe(
        detect(ES, "POST", "/products/_search"), fixture("elasticsearch", "search.json")
    )

    assert (result.units, result.dimensions) == ({"requests": Decimal(1)}, {"endpoint": "_search"})


def test_search_through_the_proxy(start_proxy) -> None:
    body = fixture("elasticsearch", "search.json")
    with fake_upstream({("POST", "/products/_search"): Reply(body)}) as (url, _):
        proxy = start_proxy(upstream_overrides={HOST: url})
        response = httpx.post(
            f"{proxy.url}/products/_search",
            content=b'{"knn": {"field": "v", "query_vector": [0.1], "k": 1}}',
            headers={"X-LLMObserve-Target-URL": f"https://{HOST}/products/_search"},
        )

    assert response.content == body
    attributes = proxy.span().attributes
    assert (attributes[GEN_AI_PROVIDER_NAME], attributes[GEN_AI_OPERATION_NAME]) == (ES, "search")
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"requests": 1.0})
