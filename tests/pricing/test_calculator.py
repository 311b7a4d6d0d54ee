"""Cost arithmetic: hand-computed cases compared exactly with ``==`` on Decimal."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pricing import Cost, Registry, TokenUsage, default_registry
from pricing._calculator import tidy

AT = datetime(2026, 11, 27, tzinfo=UTC)


def _registry(directory: Path, models: str) -> Registry:
    header = "provider: acme\ncurrency: USD\nmodels:\n"
    (directory / "acme.yaml").write_text(header + textwrap.dedent(models), encoding="utf-8")
    return Registry.load(directory)


def _cost(provider: str, model: str, usage: TokenUsage) -> Cost:
    cost = default_registry().cost(provider, model, usage, AT)
    assert cost is not None
    return cost


def test_cost_gpt_4o_mini_plain() -> None:
    cost = _cost("openai", "gpt-4o-mini", TokenUsage(input_tokens=1000, output_tokens=500))

    # input  1000 * 0.15 / 1e6 = 0.00015
    # output  500 * 0.60 / 1e6 = 0.0003
    # total                      0.00045
    assert cost.input == Decimal("0.00015")
    assert cost.output == Decimal("0.0003")
    assert cost.cache_read == Decimal("0")
    assert cost.cache_write == Decimal("0")
    assert cost.total == Decimal("0.00045")
    assert (cost.provider, cost.model, cost.source, cost.currency) == (
        "openai",
        "gpt-4o-mini",
        "registry",
        "USD",
    )


def test_cost_gpt_4o_mini_with_cached_tokens() -> None:
    usage = TokenUsage(input_tokens=2000, output_tokens=300, cache_read_tokens=1500)

    cost = _cost("openai", "gpt-4o-mini-2024-07-18", usage)

    # uncached input (2000 - 1500) * 0.15  / 1e6 = 0.000075
    # cache read              1500 * 0.075 / 1e6 = 0.0001125
    # output                   300 * 0.60  / 1e6 = 0.00018
    # total                                        0.0003675
    assert cost.input == Decimal("0.000075")
    assert cost.cache_read == Decimal("0.0001125")
    assert cost.output == Decimal("0.00018")
    assert cost.total == Decimal("0.0003675")
    assert cost.model == "gpt-4o-mini"


def test_cost_claude_3_haiku_with_cache_read_and_cache_write() -> None:
    usage = TokenUsage(
        input_tokens=10_000, output_tokens=200, cache_read_tokens=6000, cache_write_tokens=3000
    )

    cost = _cost("anthropic", "claude-3-haiku-20240307", usage)

    # uncached input (10000 - 6000 - 3000) * 0.25 / 1e6 = 0.00025
    # cache read                      6000 * 0.03 / 1e6 = 0.00018
    # cache write                     3000 * 0.30 / 1e6 = 0.0009
    # output                           200 * 1.25 / 1e6 = 0.00025
    # total                                               0.00158
    assert cost.input == Decimal("0.00025")
    assert cost.cache_read == Decimal("0.00018")
    assert cost.cache_write == Decimal("0.0009")
    assert cost.output == Decimal("0.00025")
    assert cost.total == Decimal("0.00158")


def test_cost_o4_mini_bills_reasoning_inside_output_once() -> None:
    usage = TokenUsage(input_tokens=1000, output_tokens=2000, reasoning_tokens=1500)

    cost = _cost("openai", "o4-mini", usage)

    # input  1000 * 1.10 / 1e6 = 0.0011
    # output 2000 * 4.40 / 1e6 = 0.0088   (the 1500 reasoning tokens are part of the 2000)
    # total                      0.0099
    assert cost.input == Decimal("0.0011")
    assert cost.output == Decimal("0.0088")
    assert cost.total == Decimal("0.0099")


def test_cost_uses_the_price_in_force_at_request_time(tmp_path: Path) -> None:
    registry = _registry(
        tmp_path,
        """\
        - id: m
          match: {exact: m}
          prices:
            - {effective_from: 2025-01-01, input_mtok: "2", output_mtok: "8"}
            - {effective_from: 2025-06-01, input_mtok: "1", output_mtok: "4"}
          source: {url: "https://acme.example", checked: 2026-11-27}
        """,
    )
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=500_000)

    before = registry.cost("acme", "m", usage, datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC))
    on_change = registry.cost("acme", "m", usage, datetime(2025, 6, 1, tzinfo=UTC))
    too_early = registry.cost("acme", "m", usage, datetime(2024, 12, 31, tzinfo=UTC))

    # before: 1_000_000 * 2 / 1e6 + 500_000 * 8 / 1e6 = 2 + 4 = 6
    # after:  1_000_000 * 1 / 1e6 + 500_000 * 4 / 1e6 = 1 + 2 = 3
    assert before is not None and before.total == Decimal("6")
    assert on_change is not None and on_change.total == Decimal("3")
    assert too_early is None


def test_cost_prices_reasoning_apart_when_the_entry_has_a_rate(tmp_path: Path) -> None:
    registry = _registry(
        tmp_path,
        """\
        - id: thinker
          match: {exact: thinker}
          prices:
            - effective_from: 2025-01-01
              input_mtok: "1"
              output_mtok: "4"
              output_reasoning_mtok: "3"
          source: {url: "https://acme.example", checked: 2026-11-27}
        """,
    )
    usage = TokenUsage(input_tokens=100, output_tokens=1000, reasoning_tokens=600)

    cost = registry.cost("acme", "thinker", usage, AT)

    # input              100 * 1 / 1e6 = 0.0001
    # output (1000 - 600) * 4 / 1e6 = 0.0016, reasoning 600 * 3 / 1e6 = 0.0018 -> 0.0034
    # total                                                                       0.0035
    assert cost is not None
    assert cost.output == Decimal("0.0034")
    assert cost.total == Decimal("0.0035")


def test_cost_charges_cache_tokens_at_input_rate_when_entry_has_no_cache_rates() -> None:
    usage = TokenUsage(
        input_tokens=1000, output_tokens=0, cache_read_tokens=600, cache_write_tokens=300
    )

    cost = _cost("openai", "gpt-4o-2024-05-13", usage)

    # gpt-4o-2024-05-13 has no cached-input rate: every input bucket pays 5.00
    # uncached 100 * 5 / 1e6 = 0.0005; read 600 * 5 / 1e6 = 0.003; write 300 * 5 / 1e6 = 0.0015
    assert (cost.input, cost.cache_read, cost.cache_write) == (
        Decimal("0.0005"),
        Decimal("0.003"),
        Decimal("0.0015"),
    )
    assert cost.total == Decimal("0.005")


def test_cost_is_exact_for_large_counts() -> None:
    usage = TokenUsage(input_tokens=123_456_789, output_tokens=987_654_321)

    cost = _cost("openai", "gpt-4o-mini", usage)

    # 123456789 * 0.15 / 1e6 = 18.51851835; 987654321 * 0.60 / 1e6 = 592.5925926
    assert cost.total == Decimal("611.11111095")
    assert all(
        isinstance(part, Decimal)
        for part in (cost.total, cost.input, cost.output, cost.cache_read, cost.cache_write)
    )


def test_cost_defaults_to_the_current_price() -> None:
    cost = default_registry().cost("openai", "gpt-4o-mini", TokenUsage(1000, 500))

    assert cost is not None
    assert cost.total == Decimal("0.00045")


def test_cost_returns_none_for_unknown_model() -> None:
    assert default_registry().cost("openai", "gpt-99", TokenUsage(1000, 500), AT) is None


@pytest.mark.parametrize(
    "usage",
    [
        TokenUsage(input_tokens=-1, output_tokens=0),
        TokenUsage(input_tokens=0, output_tokens=-1),
        TokenUsage(input_tokens=10, output_tokens=0, cache_read_tokens=-1),
        TokenUsage(input_tokens=10, output_tokens=0, cache_write_tokens=-1),
        TokenUsage(input_tokens=10, output_tokens=10, reasoning_tokens=-1),
    ],
)
def test_cost_raises_for_negative_counts(usage: TokenUsage) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        default_registry().cost("openai", "gpt-4o-mini", usage, AT)


def test_cost_raises_for_non_integer_counts() -> None:
    usage = TokenUsage(input_tokens=1.5, output_tokens=0)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="must be an int"):
        default_registry().cost("openai", "gpt-4o-mini", usage, AT)


def test_cost_raises_when_cache_tokens_exceed_input() -> None:
    usage = TokenUsage(
        input_tokens=100, output_tokens=0, cache_read_tokens=80, cache_write_tokens=30
    )

    with pytest.raises(ValueError, match="part of input_tokens"):
        default_registry().cost("anthropic", "claude-3-haiku-20240307", usage, AT)


def test_cost_raises_when_reasoning_exceeds_output() -> None:
    usage = TokenUsage(input_tokens=0, output_tokens=10, reasoning_tokens=11)

    with pytest.raises(ValueError, match="part of output_tokens"):
        default_registry().cost("openai", "o4-mini", usage, AT)


def test_cost_raises_for_invalid_usage_even_for_unknown_model() -> None:
    with pytest.raises(ValueError):
        default_registry().cost("openai", "gpt-99", TokenUsage(-1, 0), AT)


def test_cost_raises_for_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        default_registry().cost("openai", "gpt-4o-mini", TokenUsage(1, 1), datetime(2026, 11, 27))


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0E-12", "0"),
        ("0.00000135000", "0.00000135"),
        ("9.99", "9.99"),
        ("10.000", "10"),
        ("1.2E+3", "1200"),
        ("123.4500", "123.45"),
    ],
)
def test_tidy_drops_trailing_zeros_and_never_writes_an_exponent(amount: str, text: str) -> None:
    assert str(tidy(Decimal(amount))) == text
