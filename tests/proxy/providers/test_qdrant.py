"""Qdrant Cloud: one request per call (billing is by cluster resources)."""

from __future__ import annotations

from decimal import Decimal

from proxy.providers.catalog import provider_for_host
from proxy.providers.endpoints import detect_endpoint
from tests.proxy.providers._services_support import detect, fixture, observe, random_chunks

QDRANT = "qdrant"


def test_cluster_hosts() -> None:
    provider = provider_for_host("0c7f6b2e-1234.us-east4-0.gcp.cloud.qdrant.io")
    assert provider is not None and provider.id == QDRANT


def test_search_is_one_request() -> None:
    body = fixture("qdrant", "search.json")

    result = observe(
        detect(QDRANT, "POST", "/collections/docs/points/search"), body, chunks=random_chunks(body)
    )

    assert result.units == {"requests": Decimal(1)}


def test_health_probes_are_not_metered() -> None:
    assert detect_endpoint(QDRANT, "GET", "/healthz") is None
