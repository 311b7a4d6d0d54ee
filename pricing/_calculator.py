"""Exact ``Decimal`` cost of one request from its usage and one dated price.

Usage is split into disjoint buckets once, here, so no token is billed twice
(the double-count bugs in the reference notes, e.g. BerriAI/litellm#9812 and
#6215, all come from billing cache tokens both as input and as cache):

=====================  ===================================================
bucket                 tokens
=====================  ===================================================
uncached input         input - cache_read - cache_write
cache read             cache_read
cache write (5 min)    cache_write - one-hour writes
cache write (1 hour)   ``dimensions["cache_write_1h_tokens"]`` (all writes
                       when ``cache_write_ttl`` is ``1h``)
output                 output - reasoning
reasoning              reasoning (at the output rate unless priced apart)
=====================  ===================================================

Which rates apply, in this order:

1. the entry's base rates;
2. a service tier (``dimensions["service_tier"]``) other than standard/default
   replaces them with the entry's tier rates - or the call is not priced, since
   a priority call billed at standard rates would be under-counted;
3. a daily UTC time window the request falls in (DeepSeek off-peak) overlays
   its rates;
4. a long-context tier overlays its rates on the *whole* request once the
   input tokens (all of them, cache included) exceed its threshold - the rule
   of Anthropic and Gemini; an entry says so in its ``note``.

Fallbacks when a rate is missing, chosen so that a missing rate never makes a
request look *cheaper* than the plain input/output price: cache reads and
five-minute writes without a rate pay the input rate (OpenAI caches
implicitly and bills the first pass as ordinary input); reasoning pays the
output rate. One-hour writes without a rate, or tokens of a kind with no rate
at all, make the call unpriceable rather than guessed.

No rounding happens where the result is finite: a Decimal rate times a
count, divided by 10^6 (or by a unit's ``per``), is exact. Only a per-minute
or per-hour rate applied to seconds can give a non-terminating quotient; that
one is rounded half-even to 1e-18 USD, far below the 1e-9 the tests demand.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType

from pricing._model import Cost, ModelPrice, Rates, TokenUsage, UnitPrice
from pricing._usage import STANDARD_TIERS, Usage, one_hour_writes

# Enough digits that no realistic count times rate is ever rounded; the
# Inexact trap turns the impossible into the documented 1e-18 rounding.
_EXACT = decimal.Context(prec=64, traps=[decimal.Inexact, decimal.InvalidOperation])
_ROUNDED = decimal.Context(prec=64, traps=[decimal.InvalidOperation])
_QUANTUM = Decimal("1e-18")
_MILLION = Decimal(1_000_000)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_TEN = Decimal(10)
_SECONDS_PER_MINUTE = Decimal(60)


def check_usage(usage: TokenUsage) -> None:
    """Raise ValueError if counts are negative or do not partition, TypeError if not ints."""
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    ):
        value = getattr(usage, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"TokenUsage.{name} must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"TokenUsage.{name} must not be negative, got {value}")
    cached = usage.cache_read_tokens + usage.cache_write_tokens
    if cached > usage.input_tokens:
        raise ValueError(
            "cache_read_tokens + cache_write_tokens must be part of input_tokens, got "
            f"{usage.cache_read_tokens} + {usage.cache_write_tokens} > {usage.input_tokens}"
        )
    if usage.reasoning_tokens > usage.output_tokens:
        raise ValueError(
            "reasoning_tokens must be part of output_tokens, got "
            f"{usage.reasoning_tokens} > {usage.output_tokens}"
        )


def compute(price: ModelPrice, usage: Usage, source: str) -> Cost | str:
    """The cost of a validated ``usage`` at ``price``, or why it cannot be priced."""
    resolved = resolve_rates(price, usage)
    if isinstance(resolved, str):
        return resolved
    rates, notes = resolved
    parts = token_parts(rates, usage.tokens, one_hour_writes(usage), price.model)
    if isinstance(parts, str):
        return parts
    units = unit_costs(price.units, usage.units, usage.dimensions, price.model)
    if isinstance(units, str):
        return units
    costs, unit_notes = units
    return assemble(parts, costs, price, source, (*notes, *unit_notes))


def resolve_rates(price: ModelPrice, usage: Usage) -> tuple[Rates, tuple[str, ...]] | str:
    """The token rates in force for this request and notes on what applied."""
    notes: list[str] = []
    rates, tiers = price.rates, price.tiers
    tier_name = usage.dimensions.get("service_tier")
    if tier_name is not None and tier_name not in STANDARD_TIERS:
        service = price.service_tiers.get(tier_name)
        if service is None:
            return f"no {tier_name!r} service-tier price for {price.provider} model {price.model!r}"
        rates, tiers = rates.overlay(service.rates), service.tiers
        notes.append(f"service tier {tier_name}")
    moment = (usage.at or datetime.now(UTC)).astimezone(UTC)
    window = next((w for w in price.windows if w.contains(moment)), None)
    if window is not None:
        rates = rates.overlay(window.rates)
        notes.append(f"time window {window.label()}")
    input_tokens = usage.tokens.input_tokens if usage.tokens is not None else 0
    tier = next((t for t in reversed(tiers) if input_tokens > t.above_input_tokens), None)
    if tier is not None:
        rates = rates.overlay(tier.rates)
        notes.append(
            f"long-context tier: {input_tokens} input tokens > {tier.above_input_tokens}, "
            "whole request at tier rates"
        )
    return rates, tuple(notes)


def token_parts(
    rates: Rates, tokens: TokenUsage | None, one_hour: int, model: str
) -> tuple[Decimal, Decimal, Decimal, Decimal] | str:
    """(input, output, cache_read, cache_write) for validated counts, or why not."""
    if tokens is None:
        return Decimal(0), Decimal(0), Decimal(0), Decimal(0)
    uncached = tokens.input_tokens - tokens.cache_read_tokens - tokens.cache_write_tokens
    five_minute = tokens.cache_write_tokens - one_hour
    plain_output = tokens.output_tokens - tokens.reasoning_tokens
    counts = (
        uncached,
        tokens.cache_read_tokens,
        five_minute,
        one_hour,
        plain_output,
        tokens.reasoning_tokens,
    )
    costs: list[Decimal] = []
    for index, count in enumerate(counts):
        if not count:
            costs.append(_ZERO)  # what 0 x rate / 10^6 comes to once `tidy`
            continue
        # Looked up only for the buckets a call used (most use two of the six).
        name, rate = _bucket_rate(index, rates)
        if rate is None:
            return f"model {model!r} has no {name} token rate but the call used {count}"
        costs.append(_per(Decimal(count), rate, _MILLION))
    uncached_cost, read, write_5m, write_1h, output, reasoning = costs
    return uncached_cost, output + reasoning, read, write_5m + write_1h


def _bucket_rate(index: int, rates: Rates) -> tuple[str, Decimal | None]:
    input_rate, output_rate = rates.input_mtok, rates.output_mtok
    if index == 0:
        return "input", input_rate
    if index == 1:
        return "cache read", _first(rates.cache_read_mtok, input_rate)
    if index == 2:
        return "cache write", _first(rates.cache_write_mtok, input_rate)
    if index == 3:
        return "one-hour cache write", rates.cache_write_1h_mtok
    if index == 4:
        return "output", output_rate
    return "reasoning", _first(rates.reasoning_mtok, output_rate)


def unit_costs(
    prices: tuple[UnitPrice, ...],
    quantities: Mapping[str, Decimal],
    dimensions: Mapping[str, str],
    model: str,
) -> tuple[dict[str, Decimal], tuple[str, ...]] | str:
    """Cost per unit name for validated quantities, or why one cannot be priced."""
    wanted = {name: Decimal(q) for name, q in quantities.items() if q}
    if any(p.unit == "requests" for p in prices) and "requests" not in quantities:
        wanted["requests"] = Decimal(1)  # a per-request fee applies to every call
    costs: dict[str, Decimal] = {}
    notes: list[str] = []
    for name, quantity in wanted.items():
        found = _unit_price(prices, name, dimensions)
        if found is None:
            where = ", ".join(f"{k}={v}" for k, v in sorted(dimensions.items()))
            return f"model {model!r} has no price for {name}" + (f" at {where}" if where else "")
        unit_price, multiplier, divisor = found
        billed = quantity * multiplier  # in the price's unit, times ``divisor``
        minimum = unit_price.minimum
        if minimum is not None and billed < minimum * divisor:
            billed = minimum * divisor
            notes.append(f"minimum {minimum} {unit_price.unit} per request")
        if unit_price.percent is not None:
            costs[name] = _per(billed, unit_price.percent, 100 * divisor)
        else:
            costs[name] = _per(billed, unit_price.price or Decimal(0), unit_price.per * divisor)
    return costs, tuple(notes)


def assemble(
    parts: tuple[Decimal, Decimal, Decimal, Decimal],
    units: Mapping[str, Decimal],
    price: ModelPrice,
    source: str,
    notes: tuple[str, ...],
) -> Cost:
    input_cost, output, cache_read, cache_write = parts
    add = _EXACT.add
    other = _ZERO
    for cost in units.values():
        other = add(other, cost)
    total = add(add(add(add(input_cost, output), cache_read), cache_write), other)
    return Cost(
        total=tidy(total),
        input=tidy(input_cost),
        output=tidy(output),
        cache_read=tidy(cache_read),
        cache_write=tidy(cache_write),
        provider=price.provider,
        model=price.model,
        source=source,
        currency=price.currency,
        other=tidy(other),
        units=MappingProxyType({name: tidy(cost) for name, cost in units.items()}),
        notes=notes,
    )


def tidy(amount: Decimal) -> Decimal:
    """The same value without trailing zeros and never in exponent form."""
    # Context methods rather than `localcontext`, which copies a context each time: this
    # runs ~6 times for every priced call.
    normal = _ROUNDED.normalize(amount)
    if normal.is_finite() and normal.copy_abs() < _TEN:
        return normal  # under 10, a normalized value has no positive exponent
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return _ROUNDED.quantize(normal, _ONE)
    return normal


def _unit_price(
    prices: tuple[UnitPrice, ...], name: str, dimensions: Mapping[str, str]
) -> tuple[UnitPrice, Decimal, Decimal] | None:
    """The most specific price for ``name``, and (multiplier, divisor) to its unit.

    Seconds and minutes convert into each other, so a per-minute rate prices
    a duration the wire reports in seconds.
    """
    conversions = {name: (Decimal(1), Decimal(1))}
    if name == "minutes":
        conversions["seconds"] = (_SECONDS_PER_MINUTE, Decimal(1))
    elif name == "seconds":
        conversions["minutes"] = (Decimal(1), _SECONDS_PER_MINUTE)
    for unit, (multiplier, divisor) in conversions.items():
        matching = [
            p
            for p in prices
            if p.unit == unit and all(dimensions.get(k) == v for k, v in p.when.items())
        ]
        if matching:
            return max(matching, key=lambda p: len(p.when)), multiplier, divisor
    return None


def _per(quantity: Decimal, rate: Decimal, per: Decimal) -> Decimal:
    try:
        return _EXACT.divide(_EXACT.multiply(quantity, rate), per)
    except decimal.Inexact:
        rounded = _ROUNDED.divide(_ROUNDED.multiply(quantity, rate), per)
        return _ROUNDED.quantize(rounded, _QUANTUM)


def _first(rate: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    return fallback if rate is None else rate
