"""What one call used, as the proxy reports it, and the checks it must pass.

``Usage`` carries tokens, non-token units, price dimensions, a cost the
provider reported itself, and the request time. ``problem_with`` returns why a
usage cannot be priced (negative or absurd counts, unknown names) or None; it
never raises, because the counts come from upstream responses we do not
control.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from pricing._model import TokenUsage

# Billable quantities besides tokens (docs/pricing.md describes each one).
UNIT_NAMES = frozenset(
    {
        "amount",  # money moved, in the entry's currency (percentage fees: Stripe, PayPal)
        "bytes",
        "characters",
        "credits",  # provider credits (ElevenLabs character-cost, Stability, Runway)
        "emails",
        "images",
        "megapixels",
        "messages",
        "minutes",
        "query_units",
        "read_units",
        "records",
        "requests",
        "search_units",
        "seconds",
        "segments",
        "video_seconds",
        "web_fetch_requests",
        "web_search_requests",
        "write_units",
    }
)

# Dimension name -> allowed values (None: any non-empty string).
DIMENSIONS: Mapping[str, frozenset[str] | None] = MappingProxyType(
    {
        "service_tier": frozenset({"batch", "flex", "priority", "standard", "default", "scale"}),
        "size": None,
        "quality": frozenset({"standard", "hd", "low", "medium", "high"}),
        "cache_write_ttl": frozenset({"5m", "1h"}),
        "cache_write_1h_tokens": None,
        "endpoint": None,
        "region": None,
        "engine": None,  # voice engine: standard, neural, generative (Polly, Azure)
        "search_context_size": frozenset({"low", "medium", "high"}),
        "channel": None,  # e.g. "sms", "mms", "card_domestic"
    }
)

# Service tiers billed at the entry's ordinary rates.
STANDARD_TIERS = frozenset({"standard", "default"})

MAX_TOKENS = 100_000_000  # more in one call is a broken upstream, not a bill
MAX_UNITS = Decimal(10) ** 12
MAX_REPORTED_COST = Decimal(1_000_000)


@dataclass(frozen=True)
class Usage:
    """Everything one call used, for ``pricing.price()``.

    ``tokens`` follows ``TokenUsage``'s meaning (input includes cache reads and
    writes). ``units`` maps a name of ``UNIT_NAMES`` to a non-negative
    ``Decimal`` (``{"characters": Decimal(1200)}``); ``dimensions`` selects
    prices (``{"service_tier": "batch"}``, ``{"size": "1024x1024"}``);
    ``reported_cost`` is what the provider itself said the call cost, in USD;
    ``at`` is the request time (tz-aware), None for now.

    >>> Usage(tokens=TokenUsage(1000, 500), dimensions={"service_tier": "batch"}).tokens
    TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=0, \
cache_write_tokens=0, reasoning_tokens=0)
    """

    tokens: TokenUsage | None = None
    units: Mapping[str, Decimal] = field(default_factory=dict)
    dimensions: Mapping[str, str] = field(default_factory=dict)
    reported_cost: Decimal | None = None
    at: datetime | None = None


def problem_with(usage: Usage) -> str | None:
    """Why ``usage`` cannot be priced, or None when it is consistent."""
    if not isinstance(usage, Usage):
        return f"expected pricing.Usage, got {type(usage).__name__}"
    checks = (
        _token_problem(usage.tokens),
        _units_problem(usage.units),
        _dimensions_problem(usage.dimensions, usage.tokens),
        _money_problem(usage.reported_cost),
        _time_problem(usage.at),
    )
    return next((problem for problem in checks if problem is not None), None)


def token_problem(tokens: TokenUsage) -> str | None:
    """Why these token counts are inconsistent (see ``TokenUsage``), or None."""
    return _token_problem(tokens)


def one_hour_writes(usage: Usage) -> int:
    """How many of the cache-write tokens were one-hour writes (validated usage)."""
    tokens = usage.tokens
    if tokens is None:
        return 0
    if usage.dimensions.get("cache_write_ttl") == "1h":
        return tokens.cache_write_tokens
    raw = usage.dimensions.get("cache_write_1h_tokens")
    return int(raw) if raw is not None else 0


_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def _token_problem(tokens: TokenUsage | None) -> str | None:
    if tokens is None:
        return None
    if not isinstance(tokens, TokenUsage):
        return f"tokens must be a TokenUsage, got {type(tokens).__name__}"
    for name in _TOKEN_FIELDS:
        value = getattr(tokens, name)
        if type(value) is int and 0 <= value <= MAX_TOKENS:
            continue  # the usual case, without building a message that is not needed
        problem = _count_problem(name, value)
        if problem is not None:
            return problem
    cached = tokens.cache_read_tokens + tokens.cache_write_tokens
    if cached > tokens.input_tokens:
        return (
            "cache tokens exceed input: cache_read_tokens + cache_write_tokens = "
            f"{tokens.cache_read_tokens} + {tokens.cache_write_tokens} > "
            f"input_tokens = {tokens.input_tokens}"
        )
    if tokens.reasoning_tokens > tokens.output_tokens:
        return (
            f"reasoning tokens exceed output: {tokens.reasoning_tokens} > "
            f"output_tokens = {tokens.output_tokens}"
        )
    return None


def _count_problem(name: str, value: object) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{name} must be an integer, got {value!r}"
    if value < 0:
        return f"negative token count: {name} = {value}"
    if value > MAX_TOKENS:
        return f"absurd token count: {name} = {value} (more than {MAX_TOKENS:,} in one call)"
    return None


def _units_problem(units: Mapping[str, Decimal]) -> str | None:
    if not isinstance(units, Mapping):
        return f"units must be a mapping, got {type(units).__name__}"
    for name, quantity in units.items():
        if name not in UNIT_NAMES:
            return f"unknown unit {name!r} (known: {', '.join(sorted(UNIT_NAMES))})"
        if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
            return f"unit {name!r} must be a Decimal, got {quantity!r}"
        value = Decimal(quantity)
        if not value.is_finite() or value < 0:
            return f"unit {name!r} must be a finite non-negative number, got {quantity!r}"
        if value > MAX_UNITS:
            return f"absurd quantity: {name} = {quantity}"
    return None


def _dimensions_problem(dimensions: Mapping[str, str], tokens: TokenUsage | None) -> str | None:
    if not isinstance(dimensions, Mapping):
        return f"dimensions must be a mapping, got {type(dimensions).__name__}"
    for name, value in dimensions.items():
        if name not in DIMENSIONS:
            return f"unknown dimension {name!r} (known: {', '.join(sorted(DIMENSIONS))})"
        allowed = DIMENSIONS[name]
        if not isinstance(value, str) or not value:
            return f"dimension {name!r} must be a non-empty string, got {value!r}"
        if allowed is not None and value not in allowed:
            return f"dimension {name}={value!r} is not one of {', '.join(sorted(allowed))}"
    return _one_hour_problem(dimensions.get("cache_write_1h_tokens"), tokens)


def _one_hour_problem(raw: str | None, tokens: TokenUsage | None) -> str | None:
    if raw is None:
        return None
    if not raw.isdigit():
        return f"cache_write_1h_tokens must be a whole number, got {raw!r}"
    writes = tokens.cache_write_tokens if tokens is not None else 0
    if int(raw) > writes:
        return f"cache_write_1h_tokens = {raw} exceeds cache_write_tokens = {writes}"
    return None


def _money_problem(reported: Decimal | None) -> str | None:
    if reported is None:
        return None
    if isinstance(reported, bool) or not isinstance(reported, int | Decimal):
        return f"reported_cost must be a Decimal, got {reported!r}"
    value = Decimal(reported)
    if not value.is_finite() or value < 0:
        return f"reported_cost must be a finite non-negative amount, got {reported!r}"
    if value > MAX_REPORTED_COST:
        return f"absurd reported cost: {reported} USD for one call"
    return None


def _time_problem(at: datetime | None) -> str | None:
    if at is None:
        return None
    if not isinstance(at, datetime):
        return f"at must be a datetime, got {type(at).__name__}"
    if at.utcoffset() is None:
        return f"at must be timezone-aware, got naive datetime {at.isoformat()}"
    return None
