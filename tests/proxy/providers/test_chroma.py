"""Chroma Cloud: bytes written (request body) and returned (response body)."""

from __future__ import annotations

from decimal import Decimal

from proxy.providers.endpoints import detect_endpoint
from tests.proxy.providers._services_support import detect, fixture, observe, random_chunks

CHROMA = "chroma"
BASE = "/api/v2/tenants/default_tenant/databases/default_database/collections/3f9e1c2a"


def test_detect() -> None:
    assert detect(CHROMA, "POST", f"{BASE}/add").operation == "vector_write"
    assert detect(CHROMA, "POST", f"{BASE}/query").operation == "vector_query"
    assert detect_endpoint(CHROMA, "POST", f"{BASE}/delete") is None
    assert detect_endpoint(CHROMA, "GET", "/api/v2/heartbeat") is None


def test_add_counts_request_bytes() -> None:
    request = fixture("chroma", "add_request.json")

    result = observe(detect(CHROMA, "POST", f"{BASE}/add"), b"{}", request_body=request, status=201)

    assert result.units == {"bytes": Decimal(len(request))}


def test_query_counts_response_bytes() -> None:
    body = fixture("chroma", "query.json")

    result = observe(detect(CHROMA, "POST", f"{BASE}/query"), body, chunks=random_chunks(body))

    assert result.units == {"bytes": Decimal(len(body))}
