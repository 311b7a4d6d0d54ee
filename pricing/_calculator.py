"""Exact ``Decimal`` cost of one request from its usage and one dated price.

Usage is split into disjoint buckets once, here, so no token is billed twice
(the double-count bugs in the reference notes, e.g. BerriAI/litellm#9812 and
#6215, all come from billing cache tokens both as input and as cache):

=====================  ===================================================
bucket                 tokens
=====================  ===================================================
uncached input         input - cache_read - cache_write
cache read             cache_read
cache write            cache_write
output                 output (reasoning included)
=====================  ===================================================

Fallbacks when an entry has no rate for a bucket, chosen so that a missing
rate never makes a request look *cheaper* than the plain input/output price:

* cache reads without ``cache_read_mtok`` are charged at the input rate;
* cache writes without ``cache_write_mtok`` are charged at the input rate
  (OpenAI caches implicitly and bills the first pass as ordinary input);
* reasoning tokens are charged at the output rate unless the entry has
  ``reasoning_mtok``, in which case they leave the output bucket and pay that
  rate, but are still reported inside ``Cost.output``.

No rounding happens anywhere: a Decimal rate times an integer count, shifted
by six places, is exact. Results drop trailing zeros (``0.00045``, not
``0.000450000``; ``0``, not ``0E-9``) without changing their value.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from pricing._model import Cost, ModelPrice, TokenUsage

_SOURCE = "registry"

# Enough digits that no realistic count times rate is ever rounded; the
# Inexact trap turns the impossible into an error instead of a wrong bill.
_EXACT = decimal.Context(prec=64, traps=[decimal.Inexact, decimal.InvalidOperation])


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


def compute_cost(price: ModelPrice, usage: TokenUsage) -> Cost:
    """Price ``usage`` at ``price``; ``check_usage`` must have passed."""
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    cache_read_rate = _or(price.cache_read_mtok, price.input_mtok)
    cache_write_rate = _or(price.cache_write_mtok, price.input_mtok)
    reasoning_rate = _or(price.reasoning_mtok, price.output_mtok)
    plain_output = usage.output_tokens - usage.reasoning_tokens

    with decimal.localcontext(_EXACT):
        input_cost = _per_million(uncached, price.input_mtok)
        cache_read = _per_million(usage.cache_read_tokens, cache_read_rate)
        cache_write = _per_million(usage.cache_write_tokens, cache_write_rate)
        output = _per_million(plain_output, price.output_mtok) + _per_million(
            usage.reasoning_tokens, reasoning_rate
        )
        total = input_cost + output + cache_read + cache_write

    return Cost(
        total=_tidy(total),
        input=_tidy(input_cost),
        output=_tidy(output),
        cache_read=_tidy(cache_read),
        cache_write=_tidy(cache_write),
        provider=price.provider,
        model=price.model,
        source=_SOURCE,
        currency=price.currency,
    )


def _or(rate: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if rate is None else rate


def _per_million(tokens: int, rate_mtok: Decimal) -> Decimal:
    return (Decimal(tokens) * rate_mtok).scaleb(-6)


def _tidy(amount: Decimal) -> Decimal:
    """The same value without trailing zeros and never in exponent form."""
    with decimal.localcontext(_EXACT):
        normal = amount.normalize()
        exponent = normal.as_tuple().exponent
        if isinstance(exponent, int) and exponent > 0:
            return normal.quantize(Decimal(1))
        return normal
