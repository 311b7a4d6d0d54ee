"""Values passed between the pricing layers: usage in, prices and cost out."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType

from pricing._match import MatchRule

_EMPTY: Mapping[str, Decimal] = MappingProxyType({})


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
    reasoning is inside ``output``; ``other`` is everything that is not a token
    (units, per-request and percentage fees), itemised per unit name in
    ``units``. ``source`` is one of ``override``, ``provider``, ``registry`` or
    ``genai-prices@<version>`` (see ``PriceSource``). ``notes`` say which
    tiers, windows or minimums applied.
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
    other: Decimal = Decimal(0)
    units: Mapping[str, Decimal] = field(default_factory=lambda: _EMPTY)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rates:
    """Token rates in currency per million tokens; None where none is published."""

    input_mtok: Decimal | None = None
    output_mtok: Decimal | None = None
    cache_read_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    cache_write_1h_mtok: Decimal | None = None
    reasoning_mtok: Decimal | None = None

    def overlay(self, other: Rates) -> Rates:
        """These rates with every rate ``other`` sets replaced by its value."""
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(other)
            if getattr(other, f.name) is not None
        }
        return replace(self, **changes)

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True)
class ContextTier:
    """Rates for the *whole* request once its input tokens exceed ``above_input_tokens``."""

    above_input_tokens: int
    rates: Rates


@dataclass(frozen=True)
class ServiceTier:
    """Rates of a named service tier (batch, flex, priority ...) and its own long-context tiers."""

    rates: Rates
    tiers: tuple[ContextTier, ...] = ()


@dataclass(frozen=True)
class TimeWindow:
    """Rates during a daily UTC window ``[start, end)`` (wrapping past midnight allowed).

    ``weekdays`` holds ISO weekday numbers (1 = Monday) of the *start* day; an
    empty set means every day.
    """

    start: time
    end: time
    weekdays: frozenset[int]
    rates: Rates

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (tz-aware, compared in UTC) falls inside the window."""
        clock = moment.timetz().replace(tzinfo=None)
        weekday = moment.isoweekday()
        if self.start < self.end:
            inside = self.start <= clock < self.end
        elif clock >= self.start:
            inside = True
        elif clock < self.end:
            inside, weekday = True, (weekday - 2) % 7 + 1  # opened the day before
        else:
            inside = False
        return inside and (not self.weekdays or weekday in self.weekdays)

    def label(self) -> str:
        days = "" if not self.weekdays else " days " + ",".join(map(str, sorted(self.weekdays)))
        return f"{self.start:%H:%M}-{self.end:%H:%M} UTC{days}"


@dataclass(frozen=True)
class UnitPrice:
    """Price of a non-token unit: ``price`` per ``per`` units, or ``percent`` of the quantity.

    ``when`` holds the dimensions it applies to (``{"size": "1024x1024"}``);
    ``minimum`` is the smallest quantity billed per request (AWS Transcribe
    bills at least 15 seconds).
    """

    unit: str
    when: Mapping[str, str]
    per: Decimal = Decimal(1)
    price: Decimal | None = None
    percent: Decimal | None = None
    minimum: Decimal | None = None

    def label(self) -> str:
        rate = f"{self.percent}%" if self.percent is not None else f"{self.price} per {self.per}"
        when = ", ".join(f"{k}={v}" for k, v in sorted(self.when.items()))
        return f"{self.unit}: {rate}" + (f" [{when}]" if when else "")


@dataclass(frozen=True, kw_only=True)
class ModelPrice:
    """The rates of one model from one date on, in ``currency``.

    ``model`` is the registry entry id (``gpt-4o-mini``), not the request name
    that matched it (``gpt-4o-mini-2024-07-18``). Token rates are per million
    tokens and ``None`` when the provider publishes none; see
    ``pricing._calculator`` for the fallbacks and the order in which service
    tiers, time windows and long-context tiers apply. ``origin`` is
    ``registry`` for bundled data and ``override`` for the user's file.
    """

    provider: str
    model: str
    match: MatchRule
    effective_from: datetime
    input_mtok: Decimal | None = None
    output_mtok: Decimal | None = None
    cache_read_mtok: Decimal | None = None
    cache_write_mtok: Decimal | None = None
    cache_write_1h_mtok: Decimal | None = None
    reasoning_mtok: Decimal | None = None
    tiers: tuple[ContextTier, ...] = ()
    service_tiers: Mapping[str, ServiceTier] = field(default_factory=dict)
    windows: tuple[TimeWindow, ...] = ()
    units: tuple[UnitPrice, ...] = ()
    source_url: str
    checked: date
    currency: str = "USD"
    origin: str = "registry"
    note: str | None = None

    @cached_property  # read on every priced call; the price never changes
    def rates(self) -> Rates:
        return Rates(
            input_mtok=self.input_mtok,
            output_mtok=self.output_mtok,
            cache_read_mtok=self.cache_read_mtok,
            cache_write_mtok=self.cache_write_mtok,
            cache_write_1h_mtok=self.cache_write_1h_mtok,
            reasoning_mtok=self.reasoning_mtok,
        )


@dataclass(frozen=True)
class ModelEntry:
    """One model of a provider file with its price history (ascending dates).

    ``not_billable`` holds the reason when the provider does not charge for
    the model at all (free moderation, token counting); ``prices`` is then empty.
    """

    provider: str
    id: str
    match: MatchRule
    prices: tuple[ModelPrice, ...]
    origin: str = "registry"
    not_billable: str | None = None

    def price_at(self, at: datetime) -> ModelPrice | None:
        """The latest price with ``effective_from <= at``; None before the first."""
        index = bisect.bisect_right(self.prices, at, key=_effective_from)
        return self.prices[index - 1] if index else None


def _effective_from(price: ModelPrice) -> datetime:
    return price.effective_from
