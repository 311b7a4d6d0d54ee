"""Weaviate Cloud: one request per call (billing is by stored dimensions, not per request)."""

from __future__ import annotations

from decimal import Decimal

from proxy.providers.endpoints import detect_endpoint
from tests.proxy.providers._services_support import detect, fixture, observe

WEAVIATE = "weaviate"


def test_detect_names_the_endpoint() -> None:
    assert detect(WEAVIATE, "POST", "/v1/graphql").wire_format == "weaviate.graphql"
    assert detect(WEAVIATE, "POST", "/v1/batch/objects").wire_format == "weaviate.batch"
    assert detect(WEAVIATE, "GET", "/v1/users/own-info").wire_format == "weaviate.other"
    assert detect_endpoint(WEAVIATE, "GET", "/v1/.well-known/ready") is None
    assert detect_endpoint(WEAVIATE, "GET", "/v1/meta") is None


def test_each_call_is_one_request() -> None:
    result = observe(detect(WEAVIATE, "POST", "/v1/graphql"), fixture("weaviate", "graphql.json"))

    assert result.units == {"requests": Decimal(1)}
    assert result.dimensions == {"endpoint": "graphql"}


def test_empty_and_html_bodies_still_count_the_request() -> None:
    endpoint = detect(WEAVIATE, "DELETE", "/v1/objects/Article/123")

    assert observe(endpoint, b"", status=204).units == {"requests": Decimal(1)}
    assert observe(endpoint, b"<html>ok</html>").units == {"requests": Decimal(1)}
