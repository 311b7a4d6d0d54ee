"""``price()`` never raises: bad input, unknown models and free models answer with a status."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import pricing
from pricing import PriceSource, Quote, TokenUsage, Usage, price

AT = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("usage", "words"),
    [
        (Usage(tokens=TokenUsage(-1, 0)), "negative token count"),
        (Usage(tokens=TokenUsage(10, -5)), "negative token count"),
        (Usage(tokens=TokenUsage(100_000_001, 0)), "absurd token count"),
        (Usage(tokens=TokenUsage(100, 0, 80, 30)), "cache tokens exceed input"),
        (Usage(tokens=TokenUsage(0, 10, reasoning_tokens=11)), "reasoning tokens exceed output"),
        (Usage(tokens=TokenUsage(1.5, 0)), "must be an integer"),  # type: ignore[arg-type]
        (Usage(tokens=TokenUsage(True, 0)), "must be an integer"),
        (Usage(units={"characters": Decimal(-1)}), "non-negative"),
        (Usage(units={"characters": Decimal("NaN")}), "non-negative"),
        (Usage(units={"characters": 1.5}), "must be a Decimal"),  # type: ignore[dict-item]
        (Usage(units={"parsecs": Decimal(1)}), "unknown unit"),
        (Usage(units={"seconds": Decimal(10) ** 13}), "absurd quantity"),
        (Usage(tokens=TokenUsage(1, 1), dimensions={"colour": "red"}), "unknown dimension"),
        (Usage(tokens=TokenUsage(1, 1), dimensions={"service_tier": "gold"}), "not one of"),
        (
            Usage(tokens=TokenUsage(10, 1, 0, 5), dimensions={"cache_write_1h_tokens": "6"}),
            "exceeds cache_write_tokens",
        ),
        (
            Usage(tokens=TokenUsage(10, 1, 0, 5), dimensions={"cache_write_1h_tokens": "x"}),
            "whole number",
        ),
        (Usage(tokens=TokenUsage(1, 1), reported_cost=Decimal(-1)), "non-negative"),
        (Usage(tokens=TokenUsage(1, 1), reported_cost=Decimal(10) ** 7), "absurd reported cost"),
        (Usage(tokens=TokenUsage(1, 1), at=datetime(2026, 1, 1)), "timezone-aware"),
        (Usage(), "no tokens, no units and no cost"),
    ],
)
def test_price_answers_invalid_usage_without_raising(usage: Usage, words: str) -> None:
    quote = price("openai", "gpt-4o-mini", usage)

    assert (quote.status, quote.cost) == ("invalid_usage", None)
    assert quote.reason is not None and words in quote.reason


def test_price_answers_invalid_usage_for_a_non_usage_argument() -> None:
    quote = price("openai", "gpt-4o-mini", {"tokens": 1})  # type: ignore[arg-type]

    assert quote.status == "invalid_usage"


def test_price_flags_unknown_model_never_zero() -> None:
    quote = price("openai", "gpt-99", Usage(tokens=TokenUsage(1000, 10), at=AT))

    assert quote == Quote("unknown_model", None, quote.reason)
    assert quote.reason is not None and "no price for openai model 'gpt-99'" in quote.reason


def test_price_flags_unknown_provider() -> None:
    quote = price("acme", "m", Usage(tokens=TokenUsage(1, 1), at=AT))

    assert quote.status == "unknown_model"
    assert quote.reason is not None and "genai-prices has no provider for 'acme'" in quote.reason


def test_price_flags_a_service_tier_the_entry_does_not_price() -> None:
    usage = Usage(tokens=TokenUsage(1, 1), dimensions={"service_tier": "scale"}, at=AT)

    quote = price("openai", "gpt-5", usage)

    assert quote.status == "unknown_model"
    assert quote.reason == "no 'scale' service-tier price for openai model 'gpt-5'"


def test_price_flags_a_unit_the_entry_does_not_price() -> None:
    usage = Usage(units={"images": Decimal(1)}, dimensions={"size": "999x999"}, at=AT)

    quote = price("openai", "dall-e-3", usage)

    assert quote.status == "unknown_model"
    assert quote.reason == "model 'dall-e-3' has no price for images at size=999x999"


def test_price_flags_one_hour_writes_without_a_one_hour_rate() -> None:
    usage = Usage(tokens=TokenUsage(100, 1, 0, 50), dimensions={"cache_write_ttl": "1h"}, at=AT)

    quote = price("anthropic", "claude-3-5-sonnet-20241022", usage)

    assert quote.status == "unknown_model"
    assert "no one-hour cache write token rate" in (quote.reason or "")


def test_price_flags_output_tokens_for_an_input_only_model() -> None:
    quote = price("openai", "text-embedding-3-small", Usage(tokens=TokenUsage(10, 5), at=AT))

    assert quote.status == "unknown_model"
    assert "no output token rate" in (quote.reason or "")


def test_price_flags_a_call_before_the_first_price() -> None:
    usage = Usage(tokens=TokenUsage(1, 1), at=datetime(2020, 1, 1, tzinfo=UTC))

    quote = price("openai", "gpt-4o-mini", usage)

    assert quote.status == "unknown_model"
    assert quote.reason == "no price for openai model 'gpt-4o-mini' before 2024-07-18"


def test_price_reports_not_billable_models() -> None:
    free = price("openai", "omni-moderation-latest", Usage(tokens=TokenUsage(10, 0), at=AT))
    local = price("ollama", "llama3.2", Usage(tokens=TokenUsage(10, 10), at=AT))

    assert (free.status, free.cost) == ("not_billable", None)
    assert local.status == "not_billable"
    assert local.reason == "self-hosted ollama: no per-call charge"


def test_price_needs_a_model_or_a_provider_default() -> None:
    quote = price("openai", None, Usage(tokens=TokenUsage(1, 1), at=AT))
    reported = price("openai", None, Usage(reported_cost=Decimal("0.5"), at=AT))

    assert quote.status == "unknown_model"
    assert reported.cost is not None and reported.cost.total == Decimal("0.5")


def test_price_reports_a_broken_override_file_instead_of_raising(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "prices.yaml"
    broken.write_text("provider: openai\nmodels: [\n", encoding="utf-8")
    monkeypatch.setenv("LLMOBSERVE_PRICING_FILE", str(broken))
    pricing.default_registry.cache_clear()
    try:
        quote = price("openai", "gpt-4o-mini", Usage(tokens=TokenUsage(1, 1), at=AT))
    finally:
        monkeypatch.delenv("LLMOBSERVE_PRICING_FILE")
        pricing.default_registry.cache_clear()

    assert quote.status == "unknown_model"
    assert "price data failed to load" in (quote.reason or "")


def test_price_source_values_are_the_documented_strings() -> None:
    assert [str(s) for s in PriceSource] == [
        "override",
        "provider",
        "registry",
        "genai-prices@0.2.3",
    ]


def test_price_notes_what_applied() -> None:
    usage = Usage(tokens=TokenUsage(300_000, 10), dimensions={"service_tier": "batch"}, at=AT)

    quote = price("gcp.gemini", "gemini-2.5-pro", usage)

    assert quote.cost is not None
    assert quote.cost.notes == (
        "service tier batch",
        "long-context tier: 300000 input tokens > 200000, whole request at tier rates",
    )
