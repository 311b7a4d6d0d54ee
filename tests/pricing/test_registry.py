"""Loading and validating price data, and resolving request model names."""

from __future__ import annotations

import textwrap
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import pricing
from pricing import ModelPrice, PricingError, Registry, default_registry

AT = datetime(2026, 11, 27, tzinfo=UTC)


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _problems(directory: Path) -> PricingError:
    with pytest.raises(PricingError) as caught:
        Registry.load(directory)
    return caught.value


def test_package_exports_exactly_the_public_api() -> None:
    assert sorted(pricing.__all__) == [
        "Cost",
        "Description",
        "ModelPrice",
        "PriceSource",
        "PricingError",
        "Quote",
        "Registry",
        "TokenUsage",
        "Usage",
        "default_registry",
        "describe",
        "price",
    ]
    for name in pricing.__all__:
        assert getattr(pricing, name).__module__.startswith("pricing")


def test_load_validates_every_bundled_file() -> None:
    registry = Registry.load()

    providers = {price.provider for price in registry.prices()}
    assert {"openai", "anthropic", "gcp.gemini", "deepseek", "stripe", "pinecone"} <= providers
    assert set(registry.providers()) >= providers


def test_default_registry_is_loaded_once() -> None:
    assert default_registry() is default_registry()


def test_bundled_rules_never_capture_another_model_id() -> None:
    ids: dict[str, set[str]] = defaultdict(set)
    for price in default_registry().prices():
        ids[price.provider].add(price.model)

    captures = [
        f"{price.provider}: {price.model} matches {other}"
        for price in default_registry().prices()
        for other in ids[price.provider] - {price.model}
        if price.match.matches(other)
    ]

    assert captures == []


def test_bundled_prices_are_decimal_with_source_and_aware_dates() -> None:
    for price in default_registry().prices():
        rates = [price.input_mtok, price.output_mtok, price.cache_read_mtok]
        assert all(rate is None or isinstance(rate, Decimal) for rate in rates)
        assert price.input_mtok is not None or price.units, price.model
        assert price.effective_from.utcoffset() is not None
        assert price.source_url.startswith("https://")
        assert price.checked.isoformat() == "2026-11-27"


def test_find_returns_the_rates_the_team_relies_on() -> None:
    mini = default_registry().find("openai", "gpt-4o-mini", AT)
    haiku = default_registry().find("anthropic", "claude-3-haiku-20240307", AT)

    assert mini is not None
    assert (mini.input_mtok, mini.cache_read_mtok, mini.output_mtok) == (
        Decimal("0.15"),
        Decimal("0.075"),
        Decimal("0.60"),
    )
    assert haiku is not None
    assert (
        haiku.input_mtok,
        haiku.output_mtok,
        haiku.cache_write_mtok,
        haiku.cache_read_mtok,
    ) == (Decimal("0.25"), Decimal("1.25"), Decimal("0.30"), Decimal("0.03"))


@pytest.mark.parametrize(
    ("provider", "name", "entry"),
    [
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-4o-2024-11-20", "gpt-4o"),
        ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("openai", "o4-mini-2025-04-16", "o4-mini"),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ],
)
def test_find_resolves_dated_snapshot_to_family_entry(provider: str, name: str, entry: str) -> None:
    price = default_registry().find(provider, name, AT)

    assert price is not None
    assert price.model == entry


def test_find_keeps_gpt_4o_launch_snapshot_at_its_own_price() -> None:
    price = default_registry().find("openai", "gpt-4o-2024-05-13", AT)

    assert price is not None
    assert price.model == "gpt-4o-2024-05-13"
    assert price.input_mtok == Decimal("5.00")


@pytest.mark.parametrize(
    ("provider", "name"),
    [
        ("openai", "gpt-99"),
        ("openai", "gpt-4o-mini-2024-07-18-custom"),  # regex must match the whole name
        ("openai", "GPT-4O-MINI"),  # matching is case-sensitive
        ("anthropic", "claude-opus-4-6"),  # Opus 4 rules must not reach later Opus models
        ("anthropic", "gpt-4o-mini"),  # wrong provider
        ("no-such-provider", "gpt-4o-mini"),
    ],
)
def test_find_returns_none_for_unknown_model(provider: str, name: str) -> None:
    assert default_registry().find(provider, name, AT) is None


def test_find_returns_none_before_the_first_price() -> None:
    before_launch = datetime(2024, 7, 17, 23, 59, tzinfo=UTC)

    assert default_registry().find("openai", "gpt-4o-mini", before_launch) is None


def test_find_raises_for_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        default_registry().find("openai", "gpt-4o-mini", datetime(2026, 1, 1))


def test_find_returns_model_price_with_entry_id_and_rule() -> None:
    price = default_registry().find("openai", "gpt-4o-mini-2024-07-18", AT)

    assert isinstance(price, ModelPrice)
    assert price.match.matches("gpt-4o-mini-2099-01-01")
    assert price.source_url == "https://developers.openai.com/api/docs/pricing"


def test_load_accepts_numbers_iso_strings_and_aware_datetimes(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "acme.yaml",
        """\
        provider: acme
        currency: EUR
        models:
          - id: m
            match: {prefix: m}
            prices:
              - effective_from: "2025-01-01"
                input_mtok: 0.6
                output_mtok: 2
              - effective_from: 2025-06-01T12:00:00+02:00
                input_mtok: " 0.30 "
                output_mtok: "1"
            source: {url: "https://acme.example/prices", checked: "2026-11-27"}
        """,
    )

    history = Registry.load(tmp_path).prices()

    assert [p.input_mtok for p in history] == [Decimal("0.6"), Decimal("0.30")]
    assert history[0].effective_from == datetime(2025, 1, 1, tzinfo=UTC)
    assert history[1].effective_from == datetime(2025, 6, 1, 10, tzinfo=UTC)
    assert history[0].currency == "EUR"


def test_load_reports_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "acme.yaml",
        """\
        provider: acme
        currency: USD
        colour: blue
        models:
          - id: zeta
            match: {exact: zeta}
            prices:
              - effective_from: 2025-02-01
                input_mtok: "1"
                output_mtok: "2"
              - effective_from: 2025-01-01
                input_mtok: "1"
                output_mtok: "2"
            source: {url: "https://acme.example", checked: 2026-11-27}
          - id: alpha
            match: {regex: 'alpha(['}
            prices:
              - effective_from: 2025-01-01T00:00:00
                input_mtok: "-1"
                output_mtok: "2"
            source: {url: "https://acme.example", checked: 2026-11-27}
          - id: beta
            match: {prefix: ze}
            prices:
              - effective_from: 2025-01-01
                input_mtok: "1"
                cache_read_mtok: "0.1"
            source: {url: "ftp://acme.example"}
        """,
    )
    _write(tmp_path, "other.yaml", "provider: wrong\ncurrency: USD\nmodels: [\n")
    _write(
        tmp_path,
        "third.yaml",
        """\
        provider: elsewhere
        currency: usd
        models: []
        """,
    )

    error = _problems(tmp_path)
    message = str(error)

    expected = [
        ("acme.yaml", None, "colour", "unknown key"),
        ("acme.yaml", "zeta", "prices[1].effective_from", "later than"),
        ("acme.yaml", "alpha", "match.regex", "invalid regular expression"),
        ("acme.yaml", "alpha", "prices[0].effective_from", "timezone-aware"),
        ("acme.yaml", "alpha", "prices[0].input_mtok", "positive"),
        ("acme.yaml", "alpha", "id", "sorted"),
        ("acme.yaml", "beta", "id", "sorted"),
        ("acme.yaml", "beta", "match", "also matches the id of model 'zeta'"),
        ("acme.yaml", "beta", "prices[0].cache_read_mtok", "unknown key"),
        ("acme.yaml", "beta", "source.url", "http(s) URL"),
        ("acme.yaml", "beta", "source.checked", "required"),
        ("other.yaml", None, "<file>", "not valid YAML"),
        ("third.yaml", None, "provider", "does not match the file name"),
        ("third.yaml", None, "currency", "ISO 4217"),
        ("third.yaml", None, "models", "non-empty list"),
    ]
    for file, model, field, words in expected:
        assert any(
            p.file.endswith(file) and p.model == model and p.field == field and words in p.message
            for p in error.problems
        ), f"missing problem {file} {model} {field} {words!r} in:\n{message}"
    assert len(error.problems) == len(expected), message
    assert message.startswith(f"{len(expected)} problems in price data:")
    assert "acme.yaml:16: model 'alpha': match.regex: invalid regular expression" in message


def test_load_reports_empty_fields_instead_of_dropping_the_model(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "acme.yaml",
        """\
        provider: acme
        currency: USD
        models:
          - id: a
            match:
            prices:
            source:
        """,
    )

    error = _problems(tmp_path)

    assert sorted(p.field for p in error.problems) == ["match", "prices", "source"]


def test_load_rejects_duplicate_yaml_keys(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "acme.yaml",
        """\
        provider: acme
        currency: USD
        currency: EUR
        models: []
        """,
    )

    error = _problems(tmp_path)

    assert "duplicate key 'currency'" in str(error)


def test_load_rejects_an_exact_name_claimed_by_two_models(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "acme.yaml",
        """\
        provider: acme
        currency: USD
        models:
          - id: a
            match: {any: [{exact: a}, {exact: shared}]}
            prices: [{effective_from: 2025-01-01, input_mtok: "1", output_mtok: "1"}]
            source: {url: "https://acme.example", checked: 2026-11-27}
          - id: b
            match: {any: [{exact: b}, {exact: shared}]}
            prices: [{effective_from: 2025-01-01, input_mtok: "1", output_mtok: "1"}]
            source: {url: "https://acme.example", checked: 2026-11-27}
        """,
    )

    error = _problems(tmp_path)

    assert [(p.model, p.field) for p in error.problems] == [("b", "match")]
    assert "'shared' is already claimed by model 'a'" in str(error)


def test_load_raises_for_missing_or_empty_directory(tmp_path: Path) -> None:
    assert "is not a directory" in str(_problems(tmp_path / "missing"))
    assert "contains no *.yaml price files" in str(_problems(tmp_path))


def test_entry_answers_the_same_from_its_memo_and_keeps_it_bounded() -> None:
    registry = Registry.load()
    first = registry.entry("openai", "gpt-4o-mini-2024-07-18")
    assert first is not None
    assert first.id == "gpt-4o-mini"
    assert registry.entry("openai", "gpt-4o-mini-2024-07-18") is first
    assert registry.entry("openai", "gpt-99") is None
    for index in range(10_000):  # names come from clients: the memo must not grow with them
        assert registry.entry("openai", f"no-such-model-{index}") is None
    assert len(registry._resolved) <= 4096
    assert registry.entry("openai", "gpt-4o-mini-2024-07-18") is first
