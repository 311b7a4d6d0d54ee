"""The price file schema: tiers, windows, units, overrides, and line numbers in every problem."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import pricing
from pricing import PricingError, Registry, TokenUsage, Usage, price

HEADER = "provider: acme\ncurrency: USD\nmodels:\n"
AT = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _problems(directory: Path, override: Path | None = None) -> PricingError:
    with pytest.raises(PricingError) as caught:
        Registry.load(directory, override=override)
    return caught.value


def _bundled_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    _write(
        directory / "acme.yaml",
        HEADER
        + """\
          - id: m
            match: {exact: m}
            prices: [{effective_from: 2025-01-01, input_mtok: "1", output_mtok: "2"}]
            source: {url: "https://acme.example", checked: 2026-11-27}
        """,
    )
    return directory


def test_load_reports_every_new_field_problem_at_once_with_lines(tmp_path: Path) -> None:
    _write(
        tmp_path / "acme.yaml",
        """\
        provider: acme
        currency: USD
        default_model: nope
        models:
          - id: a
            match: {exact: a}
            not_billable: "free"
            prices: [{effective_from: 2025-01-01, input_mtok: "1"}]
            source: {url: "https://acme.example", checked: 2026-11-27}
          - id: b
            match: {exact: b}
            prices:
              - effective_from: 2025-01-01
                output_mtok: "2"
                tiers:
                  - {above_input_tokens: 200000, input_mtok: "2"}
                  - {above_input_tokens: 100000, input_mtok: "3"}
                service_tiers:
                  batch: {input_mtok: "0.5"}
                  gold: {input_mtok: "9"}
                windows:
                  - {start: "25:00", end: "01:00", input_mtok: "0.5"}
                units:
                  - {unit: parsecs, price: "1"}
                  - {unit: images, price: "1", percent: "2"}
                  - {unit: images, price: "1", when: {colour: red}}
            source: {url: "https://acme.example", checked: 2026-11-27}
        """,
    )

    error = _problems(tmp_path)
    found = {(p.model, p.field, p.line) for p in error.problems}

    expected = {
        (None, "default_model", 3),
        ("a", "not_billable", 7),
        ("b", "prices[0].input_mtok", 13),
        ("b", "prices[0].tiers[1].above_input_tokens", 17),
        ("b", "prices[0].service_tiers.batch.tiers", 19),
        ("b", "prices[0].service_tiers.gold", 20),
        ("b", "prices[0].windows[0].start", 22),
        ("b", "prices[0].windows", 21),
        ("b", "prices[0].units[0].unit", 24),
        ("b", "prices[0].units[1]", 25),
        ("b", "prices[0].units[2].when.colour", 26),
    }
    assert expected <= found, str(error)
    assert len(error.problems) == len(expected), str(error)
    assert "acme.yaml:17: model 'b': prices[0].tiers[1].above_input_tokens" in str(error)


def test_override_file_with_several_providers_wins_over_bundled_data(tmp_path: Path) -> None:
    override = _write(
        tmp_path / "negotiated.yaml",
        """\
        providers:
          - provider: acme
            models:
              - id: m
                match: {exact: m}
                prices: [{effective_from: 2025-01-01, input_mtok: "0.5", output_mtok: "1"}]
          - provider: openai
            currency: USD
            models:
              - id: internal-model
                match: {prefix: internal-}
                prices: [{effective_from: 2025-01-01, input_mtok: "1", output_mtok: "1"}]
                source: {url: "https://wiki.example/contract-42", checked: 2026-11-01}
        """,
    )

    registry = Registry.load(_bundled_copy(tmp_path), override=override)
    quote = price("acme", "m", Usage(tokens=TokenUsage(1_000_000, 0), at=AT), registry)
    internal = price("openai", "internal-x", Usage(tokens=TokenUsage(10**6, 0), at=AT), registry)

    assert quote.cost is not None and internal.cost is not None
    assert (quote.cost.total, quote.cost.source) == (Decimal("0.5"), "override")
    assert (internal.cost.total, internal.cost.source) == (Decimal("1"), "override")
    assert registry.find("acme", "m", AT) is not None
    assert registry.providers() == ("acme", "openai")


def test_malformed_override_names_file_line_and_field(tmp_path: Path) -> None:
    override = _write(
        tmp_path / "negotiated.yaml",
        """\
        providers:
          - provider: openai
            models:
              - id: gpt-4o-mini
                match: {exact: gpt-4o-mini}
                prices:
                  - effective_from: 2025-01-01
                    input_mtok: "cheap"
                    output_mtok: "1"
          - provider: openai
            models: []
        """,
    )

    error = _problems(_bundled_copy(tmp_path), override)
    lines = str(error).splitlines()

    assert any(
        "negotiated.yaml:8: model 'gpt-4o-mini': prices[0].input_mtok: expected a positive" in line
        for line in lines
    ), str(error)
    assert any("negotiated.yaml:11: models: expected a non-empty list" in line for line in lines)


def test_malformed_override_yaml_names_the_line(tmp_path: Path) -> None:
    override = _write(tmp_path / "o.yaml", "provider: openai\nmodels:\n  - id: [\n")

    error = _problems(_bundled_copy(tmp_path), override)

    assert error.problems[0].line == 4
    assert "o.yaml:4: <file>: is not valid YAML" in str(error)


def test_default_registry_loads_the_override_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    override = _write(
        tmp_path / "o.yaml",
        """\
        provider: openai
        models:
          - id: gpt-4o-mini
            match: {prefix: gpt-4o-mini}
            prices: [{effective_from: 2024-01-01, input_mtok: "0.01", output_mtok: "0.02"}]
        """,
    )
    monkeypatch.setenv("LLMOBSERVE_PRICING_FILE", str(override))
    pricing.default_registry.cache_clear()
    try:
        quote = price("openai", "gpt-4o-mini", Usage(tokens=TokenUsage(10**6, 10**6), at=AT))
        bad = _write(tmp_path / "bad.yaml", "provider: openai\nmodels: 3\n")
        monkeypatch.setenv("LLMOBSERVE_PRICING_FILE", str(bad))
        pricing.default_registry.cache_clear()
        with pytest.raises(PricingError, match=r"bad.yaml:2: models: expected a non-empty list"):
            pricing.default_registry()
    finally:
        monkeypatch.delenv("LLMOBSERVE_PRICING_FILE")
        pricing.default_registry.cache_clear()

    assert quote.cost is not None
    assert (quote.cost.total, quote.cost.source) == (Decimal("0.03"), "override")


def test_bundled_files_all_validate_and_every_rule_stays_in_its_lane() -> None:
    registry = Registry.load()

    captures = [
        f"{a.provider}: {a.id} matches {b.id}"
        for a in registry.entries()
        for b in registry.entries()
        if a.provider == b.provider and a.id != b.id and a.match.matches(b.id)
    ]

    assert captures == []
    assert len(registry.providers()) >= 20


def test_time_window_on_a_weekday_that_wraps_midnight(tmp_path: Path) -> None:
    _write(
        tmp_path / "acme.yaml",
        HEADER
        + """\
          - id: m
            match: {exact: m}
            prices:
              - effective_from: 2025-01-01
                input_mtok: "2"
                windows:
                  - {start: "22:00", end: "02:00", days: [fri], input_mtok: "1"}
            source: {url: "https://acme.example", checked: 2026-11-27}
        """,
    )
    registry = Registry.load(tmp_path)

    def total(at: datetime) -> Decimal | None:
        quote = price("acme", "m", Usage(tokens=TokenUsage(10**6, 0), at=at), registry)
        return quote.cost.total if quote.cost else None

    # Friday 23:00 and the early Saturday hour the Friday window runs into are discounted
    assert total(datetime(2026, 11, 27, 23, tzinfo=UTC)) == Decimal("1")
    assert total(datetime(2026, 11, 28, 1, 59, tzinfo=UTC)) == Decimal("1")
    assert total(datetime(2026, 11, 28, 2, 0, tzinfo=UTC)) == Decimal("2")
    assert total(datetime(2026, 11, 28, 23, tzinfo=UTC)) == Decimal("2")
