"""Values passed between the pricing layers: usage in, prices and cost out."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pricing._match import MatchRule


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one request, in the OpenTelemetry GenAI meaning.

    ``input_tokens`` is *all* input, cache reads and cache writes included
    (``gen_ai.usage.input_tokens``); ``output_tokens`` is all output, reasoning
    included. The other counts are parts of those totals, never additions to
    them. Usage parsers normalise each provider to this shape, e.g. Anthropic's
    ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``
    becomes ``input_tokens``.

    >>> usage = TokenUsage(input_tokens=2000, output_tokens=300, cache_read_tokens=1500)
    >>> usage.input_tokens - usage.cache_read_tokens  # billed at the full input rate
    500
    """

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Cost:
    """The exact price of one request; ``total`` is the sum of the parts.

    ``input`` covers only uncached input that was not written to the cache;
    reasoning is inside ``output``.
    """

    total: Decimal
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    provider: str
    model: str
    source: str
    currency: str = "USD"


@dataclass(frozen=True, kw_only=True)
class ModelPrice:
    """The rates of one model from one date on, in ``currency`` per million tokens.

    ``model`` is the registry entry id (``gpt-4o-mini``), not the request name
    that matched it (``gpt-4o-mini-2024-07-18``). Optional rates are ``None``
    when the provider publishes none; see ``pricing._calculator`` for the
    fallbacks. ``cache_write_1h_mtok`` (Anthropic's one-hour cache) is carried
    but not yet used: ``TokenUsage`` has no one-hour split so far.
    """

    provider: str
    model: str
    match: MatchRule
    effective_from: datetime
    input_mtok: Decimal
    output_mtok: Decimal
    cache_read_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    cache_write_1h_mtok: Decimal | None = None
    reasoning_mtok: Decimal | None = None
    source_url: str
    checked: date
    currency: str = "USD"


@dataclass(frozen=True)
class ModelEntry:
    """One model of a provider file with its price history (ascending dates)."""

    provider: str
    id: str
    match: MatchRule
    prices: tuple[ModelPrice, ...]

    def price_at(self, at: datetime) -> ModelPrice | None:
        """The latest price with ``effective_from <= at``; None before the first."""
        index = bisect.bisect_right(self.prices, at, key=_effective_from)
        return self.prices[index - 1] if index else None


def _effective_from(price: ModelPrice) -> datetime:
    return price.effective_from
