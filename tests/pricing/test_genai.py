"""The genai-prices fallback: pinned data, never the network, our provider ids mapped."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pricing import TokenUsage, Usage, price
from pricing._genai import PROVIDER_IDS, genai_provider

AT = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_genai_fallback_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pricing tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

    quote = price("mistral_ai", "mistral-large-latest", Usage(tokens=TokenUsage(1000, 10), at=AT))
    groq = price("groq", "llama-3.3-70b-versatile", Usage(tokens=TokenUsage(10, 10), at=AT))

    assert quote.status == "priced", quote.reason
    assert groq.status == "priced"


def test_genai_fallback_ignores_a_snapshot_installed_by_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from genai_prices import data_snapshot

    # What UpdatePrices does after fetching fresh data: replace the global snapshot.
    empty = data_snapshot.DataSnapshot(providers=[], from_auto_update=True)
    monkeypatch.setattr(data_snapshot, "_custom_snapshot", empty)

    quote = price("groq", "llama-3.3-70b-versatile", Usage(tokens=TokenUsage(10**6, 0), at=AT))

    assert quote.cost is not None
    assert (quote.cost.total, quote.cost.source) == (Decimal("0.59"), "genai-prices@0.2.3")


def test_genai_fallback_itemises_cache_and_reasoning() -> None:
    # genai-prices' deepseek-v4-flash: not in our registry under that provider? use x_ai.
    usage = Usage(tokens=TokenUsage(1000, 500, cache_read_tokens=400), at=AT)

    quote = price("x_ai", "grok-4", usage)

    assert quote.cost is not None, quote.reason
    cost = quote.cost
    assert cost.total == cost.input + cost.output + cost.cache_read + cost.cache_write + cost.other
    assert cost.cache_read > 0


def test_genai_fallback_refuses_a_tier_it_has_no_price_for() -> None:
    usage = Usage(tokens=TokenUsage(10, 10), dimensions={"service_tier": "priority"}, at=AT)

    quote = price("groq", "llama-3.3-70b-versatile", usage)

    assert quote.status == "unknown_model"
    assert "no 'priority' service-tier price" in (quote.reason or "")


def test_genai_fallback_prices_tokens_only() -> None:
    usage = Usage(units={"characters": Decimal(10)}, at=AT)

    quote = price("groq", "llama-3.3-70b-versatile", usage)

    assert quote.status == "unknown_model"
    assert "prices tokens only" in (quote.reason or "")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("gcp.gemini", "google"),
        ("gcp.vertex_ai", "google"),
        ("aws.bedrock", "aws"),
        ("azure.ai.openai", "azure"),
        ("mistral_ai", "mistral"),
        ("x_ai", "x-ai"),
        ("voyage", "voyageai"),
    ],
)
def test_genai_provider_maps_otel_ids(ours: str, theirs: str) -> None:
    assert genai_provider(ours, "m") == (theirs, "m")


def test_genai_provider_maps_hugging_face_router_names() -> None:
    assert genai_provider("huggingface", "meta-llama/Llama-3.3-70B-Instruct:together") == (
        "huggingface_together",
        "meta-llama/Llama-3.3-70B-Instruct",
    )
    assert genai_provider("huggingface", "no-partner") is None
    assert genai_provider("stripe", "card") is None


def test_every_mapped_genai_provider_exists_in_the_pinned_data() -> None:
    from genai_prices.data import providers

    known = {p.id for p in providers}

    assert set(PROVIDER_IDS.values()) <= known
