"""Fallback prices for token-billed LLMs from the pinned ``genai-prices`` package.

genai-prices (pydantic, MIT) bundles dated and tiered prices for ~2,300
models. Its only network code is ``UpdatePrices``, an opt-in background thread
that fetches fresh data; we never start it, and we price against our own
``DataSnapshot`` of the *bundled* data, so even a host application that does
start it (Logfire, Pydantic AI) cannot change our figures or our version
label. ``tests/pricing/test_genai.py`` proves no socket is opened.

The breakdown is ours: the rates of the resolved genai-prices ``ModelPrice``
(tiered prices resolved by total input tokens, as genai-prices does) run
through our calculator; its total is checked against genai-prices' own.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from typing import TYPE_CHECKING

from pricing._calculator import assemble, tidy, token_parts
from pricing._match import Exact
from pricing._model import Cost, ModelPrice, Rates
from pricing._usage import STANDARD_TIERS, Usage, one_hour_writes

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot

try:
    VERSION = metadata.version("genai-prices")
except metadata.PackageNotFoundError:  # pragma: no cover - it is a pinned dependency
    VERSION = "unavailable"

# Our provider ids (OpenTelemetry gen_ai.provider.name where one exists) -> genai-prices ids.
PROVIDER_IDS: Mapping[str, str] = {
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "azure.ai.inference": "azure",
    "azure.ai.openai": "azure",
    "cerebras": "cerebras",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "fireworks": "fireworks",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "gcp.vertex_ai": "google",
    "groq": "groq",
    "mistral_ai": "mistral",
    "openai": "openai",
    "openrouter": "openrouter",
    "perplexity": "perplexity",
    "together": "together",
    "voyage": "voyageai",
    "x_ai": "x-ai",
}
_RATE_KEYS = {
    "input_mtok": "input_mtok",
    "output_mtok": "output_mtok",
    "cache_read_mtok": "cache_read_mtok",
    "cache_write_mtok": "cache_write_mtok",
    "cache_write_1h_mtok": "cache_write_1h_mtok",
    "output_reasoning_mtok": "reasoning_mtok",
}


def genai_provider(provider: str, model: str) -> tuple[str, str] | None:
    """(genai-prices provider id, model ref) for one of ours, or None.

    Hugging Face router names carry the serving provider after a colon
    (``meta-llama/Llama-3.3-70B-Instruct:together``); genai-prices keeps one
    provider per serving partner (``huggingface_together``).
    """
    if provider == "huggingface":
        name, _, partner = model.rpartition(":")
        return (f"huggingface_{partner}", name) if name and partner else None
    mapped = PROVIDER_IDS.get(provider)
    return (mapped, model) if mapped is not None else None


def quote(provider: str, model: str, usage: Usage) -> Cost | str:
    """The genai-prices cost of a validated token usage, or why there is none."""
    target = genai_provider(provider, model)
    if target is None:
        return f"genai-prices has no provider for {provider!r}"
    if usage.tokens is None or set(usage.units) - {"web_search_requests"}:
        return "genai-prices prices tokens only"
    genai_id, model_ref = target
    from genai_prices.types import TieredPrices
    from genai_prices.types import Usage as GenaiUsage

    at = (usage.at or datetime.now(UTC)).astimezone(UTC)
    context = _price_context(usage.dimensions.get("service_tier"))
    try:
        snapshot = _snapshot()
        found_provider, found = snapshot.find_provider_model(model_ref, None, genai_id, None)
        if context and not _has_variant(found, context, at):
            tier = usage.dimensions["service_tier"]
            return f"genai-prices has no {tier!r} service-tier price for {model_ref!r}"
        genai_usage = GenaiUsage(**_usage_values(usage))
        calculation = found.calc_price(
            genai_usage, found_provider, genai_request_timestamp=at, price_context=context
        )
    except (LookupError, ValueError, ArithmeticError) as exc:
        return f"genai-prices cannot price {provider} model {model!r}: {exc}"
    model_price = calculation.model_price
    total_input = usage.tokens.input_tokens

    def resolve(key: str) -> Decimal | None:
        value = getattr(model_price, key, None)
        if isinstance(value, TieredPrices):
            tier = next((t for t in reversed(value.tiers) if total_input > t.start), None)
            return value.base if tier is None else tier.price
        return value if isinstance(value, Decimal) else None

    rates = Rates(**{ours: resolve(theirs) for theirs, ours in _RATE_KEYS.items()})
    parts = token_parts(rates, usage.tokens, one_hour_writes(usage), found.id)
    if isinstance(parts, str):
        return f"genai-prices: {parts}"
    units: dict[str, Decimal] = {}
    searches = resolve("web_searches_kcount")
    if searches is not None and usage.units.get("web_search_requests"):
        units["web_search_requests"] = Decimal(usage.units["web_search_requests"]) * searches / 1000
    per_request = resolve("requests_kcount")
    if per_request is not None:
        units["requests"] = per_request / 1000
    label = ModelPrice(
        provider=provider,
        model=found.id,
        match=Exact(found.id),
        effective_from=datetime.min.replace(tzinfo=UTC),
        source_url=(found_provider.pricing_urls or ["https://github.com/pydantic/genai-prices"])[0],
        checked=at.date(),
    )
    cost = assemble(parts, units, label, f"genai-prices@{VERSION}", ())
    expected = tidy(calculation.total_price)
    if cost.total != expected:  # a price kind we do not itemise (audio, images ...)
        units["unitemised"] = expected - cost.total
        cost = assemble(parts, units, label, f"genai-prices@{VERSION}", ())
    return cost


@functools.cache
def _snapshot() -> DataSnapshot:
    """Our own snapshot of the bundled data; never the auto-updated one."""
    from genai_prices.data import providers
    from genai_prices.data_snapshot import DataSnapshot

    return DataSnapshot(providers=providers, from_auto_update=False)


def _price_context(tier: str | None) -> dict[str, str]:
    if tier is None or tier in STANDARD_TIERS:
        return {}
    if tier == "batch":
        return {"processing": "batch"}
    return {"service_tier": tier}


def _has_variant(model: object, context: Mapping[str, str], at: datetime) -> bool:
    for variant in getattr(model, "price_variants", None) or ():
        active = variant.constraint is None or variant.constraint.active(at)
        if active and all(context.get(k) == v for k, v in variant.when.items()):
            return True
    return False


def _usage_values(usage: Usage) -> dict[str, int]:
    tokens = usage.tokens
    assert tokens is not None
    values = {"input_tokens": tokens.input_tokens, "output_tokens": tokens.output_tokens}
    if tokens.cache_read_tokens:
        values["cache_read_tokens"] = tokens.cache_read_tokens
    if tokens.cache_write_tokens:
        values["cache_write_tokens"] = tokens.cache_write_tokens
        one_hour = one_hour_writes(usage)
        if one_hour:
            values["cache_write_1h_tokens"] = one_hour
    if tokens.reasoning_tokens:
        values["output_reasoning_tokens"] = tokens.reasoning_tokens
    searches = usage.units.get("web_search_requests")
    if searches:
        values["web_searches"] = int(searches)
    return values


def describe(provider: str, model: str, at: datetime) -> tuple[str, str] | None:
    """(genai-prices model id, its rates in words) at ``at``, or None if unknown."""
    target = genai_provider(provider, model)
    if target is None:
        return None
    genai_id, model_ref = target
    try:
        _, found = _snapshot().find_provider_model(model_ref, None, genai_id, None)
    except LookupError:
        return None
    return found.id, str(found.get_prices(at))
