"""``price()``: the one call the proxy makes, and the order of price sources.

Sources, first match wins:

1. ``override`` - the user's ``LLMOBSERVE_PRICING_FILE`` (negotiated prices);
2. ``provider`` - a cost the provider reported in the response
   (``Usage.reported_cost``: OpenRouter ``usage.cost``, Perplexity
   ``usage.cost.total_cost``, Twilio ``price`` ...);
3. ``registry`` - our bundled ``pricing/data/*.yaml``;
4. ``genai-prices@<version>`` - token-billed LLMs we do not list.

``price()`` never raises: bad counts answer ``invalid_usage``, an unknown
model ``unknown_model`` (never a silent $0), a model the provider does not
charge for ``not_billable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from pricing import _genai
from pricing._calculator import compute, tidy
from pricing._errors import PricingError
from pricing._model import Cost, ModelEntry
from pricing._registry import Registry
from pricing._usage import Usage, problem_with


class PriceSource(StrEnum):
    """Where a ``Cost`` came from; ``Cost.source`` holds one of these values."""

    OVERRIDE = "override"
    PROVIDER = "provider"
    REGISTRY = "registry"
    GENAI_PRICES = f"genai-prices@{_genai.VERSION}"


@dataclass(frozen=True)
class Quote:
    """The answer to "what did this call cost": a status, and the cost iff priced.

    ``status`` is ``priced``, ``unknown_model``, ``invalid_usage`` or
    ``not_billable``; ``reason`` says why in words when it is not ``priced``.
    """

    status: str
    cost: Cost | None
    reason: str | None


def price(
    provider: str, model: str | None, usage: Usage, registry: Registry | None = None
) -> Quote:
    """Price one call from the first source that knows it; never raises.

    >>> from pricing import TokenUsage, Usage
    >>> quote = price("openai", "gpt-4o-mini", Usage(tokens=TokenUsage(1000, 500)))
    >>> quote.status, quote.cost.total, quote.cost.source
    ('priced', Decimal('0.00045'), 'registry')
    >>> price("openai", "gpt-99", Usage(tokens=TokenUsage(1, 1))).status
    'unknown_model'
    """
    problem = problem_with(usage)
    if problem is None and _is_empty(usage):
        problem = "usage reports no tokens, no units and no cost"
    if problem is not None:
        return Quote("invalid_usage", None, problem)
    if registry is None:
        from pricing import default_registry

        try:
            registry = default_registry()
        except PricingError as exc:
            return Quote("unknown_model", None, f"price data failed to load: {exc}")
    name = model or registry.default_model(provider)
    if name is None:
        if usage.reported_cost is not None:
            return _reported(provider, "", usage.reported_cost)
        return Quote("unknown_model", None, f"no model named and {provider} has no default entry")
    return _price_model(provider, name, usage, registry)


def _price_model(provider: str, name: str, usage: Usage, registry: Registry) -> Quote:
    at = usage.at or datetime.now(UTC)
    entry = registry.entry(provider, name)
    if entry is not None and entry.origin == "override":
        return _from_entry(entry, usage, at, PriceSource.OVERRIDE)
    if usage.reported_cost is not None:
        return _reported(provider, name, usage.reported_cost)
    if entry is not None:
        return _from_entry(entry, usage, at, PriceSource.REGISTRY)
    fallback = _genai.quote(provider, name, usage)
    if isinstance(fallback, Cost):
        return Quote("priced", fallback, None)
    return Quote("unknown_model", None, f"no price for {provider} model {name!r} ({fallback})")


def _is_empty(usage: Usage) -> bool:
    return usage.tokens is None and not usage.units and usage.reported_cost is None


def _from_entry(entry: ModelEntry, usage: Usage, at: datetime, source: PriceSource) -> Quote:
    if entry.not_billable is not None:
        return Quote("not_billable", None, entry.not_billable)
    price_now = entry.price_at(at)
    if price_now is None:
        return Quote(
            "unknown_model",
            None,
            f"no price for {entry.provider} model {entry.id!r} before "
            f"{entry.prices[0].effective_from.date().isoformat()}",
        )
    result = compute(price_now, usage, source.value)
    if isinstance(result, str):
        return Quote("unknown_model", None, result)
    return Quote("priced", result, None)


def _reported(provider: str, model: str, amount: Decimal) -> Quote:
    """The provider's own figure: one total, not split into tokens (it is in ``other``)."""
    total = tidy(Decimal(amount))
    zero = Decimal(0)
    cost = Cost(
        total=total,
        input=zero,
        output=zero,
        cache_read=zero,
        cache_write=zero,
        provider=provider,
        model=model,
        source=PriceSource.PROVIDER.value,
        other=total,
        units=MappingProxyType({}),
        notes=("cost reported by the provider; no breakdown",),
    )
    return Quote("priced", cost, None)
