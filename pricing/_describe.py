"""What the registry knows about one model, in words: for ``llmobserve pricing show``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pricing import _genai
from pricing._model import ModelPrice, Rates
from pricing._registry import Registry

_RATE_LABELS = (
    ("input_mtok", "input"),
    ("cache_read_mtok", "cache read"),
    ("cache_write_mtok", "cache write 5m"),
    ("cache_write_1h_mtok", "cache write 1h"),
    ("output_mtok", "output"),
    ("reasoning_mtok", "reasoning"),
)


@dataclass(frozen=True)
class Description:
    """The price source and entry a model name resolves to, and its rates as lines.

    >>> from pricing import default_registry
    >>> describe("openai", "gpt-4o-mini-2024-07-18", default_registry()).entry
    'gpt-4o-mini'
    """

    source: str
    entry: str
    lines: tuple[str, ...]


def describe(
    provider: str, model: str, registry: Registry, at: datetime | None = None
) -> Description | None:
    """The entry ``model`` resolves to (override, registry, then genai-prices), or None."""
    moment = at or datetime.now(UTC)
    entry = registry.entry(provider, model)
    if entry is not None:
        if entry.not_billable is not None:
            return Description(entry.origin, entry.id, (f"not billable: {entry.not_billable}",))
        price = entry.price_at(moment)
        if price is None:
            first = entry.prices[0].effective_from.date().isoformat()
            return Description(entry.origin, entry.id, (f"no price before {first}",))
        return Description(entry.origin, entry.id, _price_lines(price))
    found = _genai.describe(provider, model, moment)
    if found is None:
        return None
    genai_id, rates = found
    return Description(f"genai-prices@{_genai.VERSION}", genai_id, (f"rates: {rates}",))


def rates_text(rates: Rates) -> str:
    """``input 0.15, cache read 0.075, output 0.60`` (USD per million tokens)."""
    parts = [
        f"{label} {getattr(rates, name)}"
        for name, label in _RATE_LABELS
        if getattr(rates, name) is not None
    ]
    return ", ".join(parts) or "no token rates"


def _price_lines(price: ModelPrice) -> tuple[str, ...]:
    lines = [
        f"in force since {price.effective_from.isoformat()}",
        f"tokens ({price.currency} per 1M): {rates_text(price.rates)}",
    ]
    lines += [
        f"  above {t.above_input_tokens} input tokens (whole request): {rates_text(t.rates)}"
        for t in price.tiers
    ]
    for name, tier in sorted(price.service_tiers.items()):
        lines.append(f"service tier {name}: {rates_text(tier.rates)}")
        lines += [
            f"  above {t.above_input_tokens} input tokens: {rates_text(t.rates)}"
            for t in tier.tiers
        ]
    lines += [f"window {w.label()}: {rates_text(w.rates)}" for w in price.windows]
    lines += [f"unit {u.label()}" for u in price.units]
    if price.note:
        lines.append(f"note: {price.note}")
    lines.append(f"source: {price.source_url} (checked {price.checked.isoformat()})")
    return tuple(lines)
